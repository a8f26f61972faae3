"""A total deadline on every object-store call, and a fail-fast cool-down after failures.

botocore's timeouts are per socket operation: a store that accepts the connection and sends one
byte a second never trips its read timeout, and holds the request thread for as long as it
likes. Each call here runs in its own daemon thread and the caller waits for it at most until
the deadline, whatever the store does; a thread the store still holds ends with its socket or
with the process.

After :data:`FAILURES_BEFORE_COOLDOWN` failed calls in a row the guard fails every call at once,
for the cool-down, instead of spending the deadline on each; then one call at a time tries the
store again. Hand-written rather than pybreaker, whose breaker holds one lock for the whole of
every call and so would serialise every storage call of a process.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import StorageUnavailable

T = TypeVar("T")

FAILURES_BEFORE_COOLDOWN = 3
"""Failed calls in a row, in one process, after which the store is not asked for a while."""


class StoreGuard:
    """Bounds calls to one object store in time, and stops calling it while it keeps failing."""

    def __init__(self, deadline_seconds: float, cooldown_seconds: float) -> None:
        self.deadline_seconds = deadline_seconds
        self.cooldown_seconds = cooldown_seconds
        self._failures = 0
        self._open_until = 0.0
        self._trying = False
        self._lock = threading.Lock()
        # A fork (gunicorn --preload) may come while another thread holds the lock.
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._trying = False

    def renew(self) -> None:
        """Forget past failures and any cool-down: its deadline was on another machine's clock."""
        self._after_fork()
        self._failures = 0
        self._open_until = 0.0

    def deadline(self) -> float:
        """The monotonic time by which a call starting now must be answered."""
        return time.monotonic() + self.deadline_seconds

    def call(self, until: float, operation: Callable[[], T]) -> T:
        """``operation()`` answered by ``until``, else :class:`StorageUnavailable`.

        Only :class:`StorageUnavailable` counts as a failure of the store; any other outcome
        (an object that exists, one that does not) proves it answers.
        """
        trial = self._admit()
        try:
            result = _bounded(operation, until - time.monotonic())
        except StorageUnavailable:
            self._failed(trial)
            raise
        except BaseException:
            self._succeeded()
            raise
        self._succeeded()
        return result

    def _admit(self) -> bool:
        """Whether this call is the one trial after a cool-down; raises while cooling down."""
        with self._lock:
            now = time.monotonic()
            if self._failures < FAILURES_BEFORE_COOLDOWN:
                return False
            if now >= self._open_until and not self._trying:
                self._trying = True
                return True
            wait = max(self._open_until - now, 1.0)
        raise StorageUnavailable(
            f"object store failed {self._failures} times in a row; not asked again for "
            f"{wait:.1f} s",
            retry_after=math.ceil(wait),
        )

    def _failed(self, trial: bool) -> None:
        with self._lock:
            self._failures += 1
            if trial:
                self._trying = False
            if self._failures >= FAILURES_BEFORE_COOLDOWN:
                self._open_until = time.monotonic() + self.cooldown_seconds

    def _succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._trying = False


class _Outcome:
    """What the call's thread produced, handed over under the thread's completion event."""

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()


def _bounded(operation: Callable[[], T], seconds: float) -> T:
    if seconds <= 0:
        raise StorageUnavailable("object store deadline passed before the request was sent")
    outcome = _Outcome()

    def run() -> None:
        try:
            outcome.value = operation()
        except BaseException as exc:
            outcome.error = exc
        finally:
            outcome.done.set()

    threading.Thread(target=run, name="stricture-store-call", daemon=True).start()
    if not outcome.done.wait(seconds):
        raise StorageUnavailable(f"object store did not answer within {seconds:.1f} s")
    if outcome.error is not None:
        raise outcome.error
    value: T = outcome.value
    return value
