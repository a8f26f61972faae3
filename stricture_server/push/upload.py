"""One upload to ``POST /v1/artifacts``: gzip, bounded retries with backoff, Retry-After."""

from __future__ import annotations

import gzip
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any

import orjson

RETRIED_STATUSES = frozenset({429, 502, 503, 504})
"""Statuses that say "later": retried. Every other answer is final."""


@dataclass(frozen=True, slots=True)
class Answer:
    """The server's last answer, or ``status`` 0 when no answer came at all."""

    status: int
    body: dict[str, Any]
    location: str = ""
    reason: str = ""
    """Why no answer came (status 0): the last connection error."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait between attempts."""

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    """The longest wait between two attempts, a server's ``Retry-After`` included."""
    timeout: float = 60.0
    """Seconds to wait for the server on one attempt."""


@dataclass(slots=True)
class Uploader:
    """Sends one envelope to a server until it gives a final answer or the attempts run out."""

    url: str
    policy: RetryPolicy
    token: str = field(default="", repr=False)
    report: Callable[[str], None] = print
    sleep: Callable[[float], None] = time.sleep

    def send(self, envelope: dict[str, Any]) -> Answer:
        """Upload ``envelope``; the final answer (or the last failure)."""
        body = gzip.compress(orjson.dumps(envelope), mtime=0)
        answer = Answer(0, {})
        for attempt in range(1, self.policy.attempts + 1):
            answer, retry_after = self._attempt(body)
            if answer.status and answer.status not in RETRIED_STATUSES:
                return answer
            if attempt == self.policy.attempts:
                break
            delay = self._delay(attempt, retry_after)
            what = f"HTTP {answer.status}" if answer.status else answer.reason
            self.report(
                f"attempt {attempt} of {self.policy.attempts}: {what}; retrying in {delay:.1f} s"
            )
            self.sleep(delay)
        return answer

    def _attempt(self, body: bytes) -> tuple[Answer, float | None]:
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Accept": "application/json",
            "User-Agent": "stricture-server-push",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 (the URL's scheme is checked at start)
            f"{self.url.rstrip('/')}/v1/artifacts", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.policy.timeout) as response:  # noqa: S310
                return _answer(response.status, response.headers, response.read()), None
        except urllib.error.HTTPError as error:
            with error:
                data = error.read()
            return _answer(error.code, error.headers, data), _retry_after(error.headers)
        except (urllib.error.URLError, HTTPException, OSError) as error:
            reason = getattr(error, "reason", None) or error
            return Answer(0, {}, reason=f"connection failed: {reason}"), None

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.policy.max_delay)
        # Exponential backoff with full jitter, so many jobs retrying at once spread out.
        ceiling = min(self.policy.max_delay, self.policy.base_delay * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # noqa: S311 (spreading retries, not a secret)


def _answer(status: int, headers: Any, data: bytes) -> Answer:
    try:
        parsed = orjson.loads(data) if data else {}
    except orjson.JSONDecodeError:
        parsed = {}
    body = parsed if isinstance(parsed, dict) else {}
    return Answer(status, body, headers.get("Location", "") or str(body.get("location", "")))


def _retry_after(headers: Any) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date (RFC 9110, 10.2.3)."""
    raw = (headers.get("Retry-After") or "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
