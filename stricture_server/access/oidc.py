"""OIDC tokens from CI (GitHub Actions, GitLab CI, any issuer with discovery and JWKS).

Imported only when an issuer is configured: the JWT library stays off an ingest's cold start
otherwise. Signatures are checked by PyJWT; this module picks the key and the rules: the
issuer must be configured, the algorithm in its allow-list (asymmetric only, so never
``none`` and never an HMAC keyed with a public key), ``aud`` exactly the configured audience
(one value, not a list), and ``exp``/``nbf``/``iat`` within the leeway.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from ..errors import Unauthenticated
from .keys import IssuerKeys
from .settings import AccessSettings, Issuer

REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat"]
VERIFIED_KEPT = 1024
"""Tokens remembered as verified: a CI job sends the same token on each of its requests."""


def looks_like_jwt(credential: str) -> bool:
    """A compact JWS: three dot-separated parts."""
    return credential.count(".") == 2


class OidcVerifier:
    """Verifies tokens of the configured issuers."""

    def __init__(self, settings: AccessSettings, now: Callable[[], float] = time.time) -> None:
        self.leeway = settings.leeway_seconds
        self.now = now
        self.issuers: dict[str, Issuer] = {i.issuer: i for i in settings.issuers}
        self.keys: dict[str, IssuerKeys] = {
            i.issuer: IssuerKeys(
                i.issuer,
                i.jwks_uri,
                settings.key_fetch_seconds,
                settings.key_refresh_cooldown_seconds,
            )
            for i in settings.issuers
        }
        self._verified: OrderedDict[bytes, tuple[Issuer, Mapping[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str) -> tuple[Issuer, Mapping[str, Any]]:
        """The token's issuer and verified claims, or :class:`Unauthenticated` saying why.

        A token verified before is answered from memory (by its SHA-256) until it expires:
        the same bytes verify the same way, and keys are never withdrawn from the cache."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        with self._lock:
            known = self._verified.get(digest)
            if known is not None:
                self._verified.move_to_end(digest)
        if known is not None:
            if self.now() < known[1]["exp"] + self.leeway:
                return known
            raise Unauthenticated("the token expired")
        found = self._verify(token)
        with self._lock:
            self._verified[digest] = found
            if len(self._verified) > VERIFIED_KEPT:
                self._verified.popitem(last=False)
        return found

    def _verify(self, token: str) -> tuple[Issuer, Mapping[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise Unauthenticated("the bearer token is not a valid JWT") from None
        claimed = unverified.get("iss")
        issuer = self.issuers.get(claimed) if isinstance(claimed, str) else None
        if issuer is None:
            raise Unauthenticated(f"unknown issuer {str(claimed)[:200]!r}")
        alg = header.get("alg")
        if alg not in issuer.algorithms:
            raise Unauthenticated(
                f"algorithm {str(alg)[:20]!r} is not accepted for this issuer "
                f"(accepted: {', '.join(issuer.algorithms)})"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("the token has no key id (kid)")
        key = self.keys[issuer.issuer].key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=issuer.audience,
                issuer=issuer.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS, "strict_aud": True},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("the token is not valid yet (nbf or iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(
                f"wrong audience: the token must name exactly {issuer.audience!r}"
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"the token has no {exc.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("the token's signature does not verify") from None
        except (jwt.InvalidTokenError, jwt.PyJWKError) as exc:
            raise Unauthenticated(f"the token is not valid: {str(exc)[:200]}") from None
        except (TypeError, ValueError):
            # PyJWT refuses a key of another type than the algorithm (an RSA key for ES256).
            raise Unauthenticated(
                f"the token is not valid: key {kid!r} does not sign {alg}"
            ) from None
        if not isinstance(claims.get("sub"), str):
            raise Unauthenticated("the token's sub claim is not a string")
        return issuer, claims
