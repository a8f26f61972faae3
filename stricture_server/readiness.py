"""``GET /readyz``: whether the configured store answers, checked cheaply and cached briefly."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import StorageUnavailable

READY_CACHE_SECONDS = 2.0
"""How long one check's result stands: a load balancer polling every second costs the store
one request per worker every two seconds, and an outage shows within two seconds."""


def store_check(storage: Any, prefix: str) -> Callable[[], None]:
    """The cheapest check that ``storage`` answers; it raises :class:`StorageUnavailable`.

    An object store is listed for at most one key (the probe made at start); a filesystem
    store's root must be a writable directory, or one it can make. The ``mirror`` driver is
    ready when its local store is: it takes runs during an object-store outage and replicates
    them after.
    """
    local = getattr(storage, "local", storage)
    probe = getattr(local, "probe", None)
    if probe is not None:
        root = f"{prefix}/" if prefix else ""
        return lambda: probe(root)
    directory = getattr(local, "root", None)
    if directory is None:
        return lambda: _first_key(local, prefix)

    def writable_directory() -> None:
        # Made if missing, as the first create would make it: a new deployment is ready.
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"data directory {directory}: {exc.strerror}") from None
        if not os.access(directory, os.W_OK | os.X_OK):
            raise StorageUnavailable(f"data directory {directory} is not writable")

    return writable_directory


def _first_key(storage: Any, prefix: str) -> None:
    # A store that offers neither: reading one key of a listing is the check.
    next(iter(storage.list(f"{prefix}/")), None)


class Readiness:
    """One store check, its result kept for :data:`READY_CACHE_SECONDS`; thread-safe."""

    def __init__(
        self,
        check: Callable[[], None],
        ttl: float = READY_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._until = float("-inf")
        self._failure: StorageUnavailable | None = None

    def renew(self) -> None:
        """Forget the last check: its expiry was on the clock of the process it ran in."""
        self._lock = threading.Lock()
        self._until = float("-inf")
        self._failure = None

    def require(self) -> None:
        """Return if the store answered lately; raise its :class:`StorageUnavailable` if not."""
        with self._lock:
            now = self._clock()
            if now >= self._until:
                try:
                    self._check()
                    self._failure = None
                except StorageUnavailable as exc:
                    self._failure = exc
                self._until = now + self._ttl
            failure = self._failure
        if failure is not None:
            raise failure
