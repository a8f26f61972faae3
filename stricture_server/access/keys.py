"""An OIDC issuer's signing keys: fetched by discovery + JWKS, cached by ``kid``.

A request never waits on a fetch longer than ``fetch_seconds``: the fetch runs in its own
thread, a late answer still fills the cache for the next request, and one fetch at a time is
in flight. An unknown ``kid`` causes at most one fetch per ``cooldown_seconds``, so a flood of
forged key ids cannot make the server hammer the issuer; keys fetched before keep working
while the issuer is down.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import jwt
import orjson

from ..errors import Unauthenticated

MAX_DOCUMENT_BYTES = 1024 * 1024
DISCOVERY = "/.well-known/openid-configuration"


def fetch_json(url: str, timeout: float) -> Any:
    """GET a JSON document, at most :data:`MAX_DOCUMENT_BYTES`."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
        return orjson.loads(answer.read(MAX_DOCUMENT_BYTES))


class IssuerKeys:
    """The cached keys of one issuer, refreshed under the cooldown."""

    def __init__(
        self,
        issuer: str,
        jwks_uri: str,
        fetch_seconds: float,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.jwks_uri = jwks_uri
        self.fetch_seconds = fetch_seconds
        self.cooldown_seconds = cooldown_seconds
        self.clock = clock
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetches = 0
        """Fetches started, for the tests and the operator's curiosity."""
        self._lock = threading.Lock()
        self._last_attempt: float | None = None
        self._in_flight: threading.Event | None = None
        self._failure = ""

    def key(self, kid: str) -> jwt.PyJWK:
        """The key ``kid``, fetching the key set once if the cooldown allows."""
        with self._lock:
            found = self.keys.get(kid)
            if found is not None:
                return found
            done = self._in_flight or self._start_fetch()
        if done is None:
            raise Unauthenticated(
                f"key id {kid!r} is not among the issuer's keys (checked again at most every "
                f"{self.cooldown_seconds:g} s)"
            )
        done.wait(self.fetch_seconds)
        with self._lock:
            found = self.keys.get(kid)
            failure = self._failure if done.is_set() else "no answer in time"
        if found is not None:
            return found
        if failure:
            raise Unauthenticated(f"the issuer's keys could not be fetched: {failure}")
        raise Unauthenticated(f"key id {kid!r} is not among the issuer's keys")

    def _start_fetch(self) -> threading.Event | None:
        """Start a fetch unless one ran within the cooldown (called holding the lock)."""
        now = self.clock()
        if self._last_attempt is not None and now - self._last_attempt < self.cooldown_seconds:
            return None
        self._last_attempt = now
        self.fetches += 1
        done = threading.Event()
        self._in_flight = done
        threading.Thread(target=self._fetch, args=(done,), daemon=True).start()
        return done

    def _fetch(self, done: threading.Event) -> None:
        keys: dict[str, jwt.PyJWK] | None = None
        failure = ""
        try:
            keys = self._fetch_keys()
        except Exception as exc:  # any failure leaves the cached keys as they were
            failure = _reason(exc)
        with self._lock:
            if keys is not None:
                # Merged, not replaced: a token signed just before a rotation still verifies.
                self.keys.update(keys)
            self._failure = failure
            self._in_flight = None
        done.set()

    def _fetch_keys(self) -> dict[str, jwt.PyJWK]:
        uri = self.jwks_uri
        if not uri:
            discovery = fetch_json(self.issuer.rstrip("/") + DISCOVERY, self.fetch_seconds)
            if not isinstance(discovery, dict) or discovery.get("issuer") != self.issuer:
                raise ValueError("the discovery document names another issuer")
            named = discovery.get("jwks_uri")
            if not isinstance(named, str) or not named.startswith(("https://", "http://")):
                raise ValueError("the discovery document has no jwks_uri")
            uri = named
        document = fetch_json(uri, self.fetch_seconds)
        if not isinstance(document, dict):
            raise ValueError("the key set is not a JSON object")
        found = jwt.PyJWKSet.from_dict(document)
        return {k.key_id: k for k in found.keys if k.key_id}


def _reason(exc: Exception) -> str:
    """A short reason for the 401 body and the log; never a key or a token."""
    text = str(exc) or type(exc).__name__
    return text[:200]
