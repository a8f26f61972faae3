"""Process mode's sealing: a background thread that seals each period once it is due.

Every worker runs one; they wake together a minute after a period ends, each after its own
random delay, and the first to create a seal wins (create-if-absent), the others find it.
Function mode has no background: its scheduled entry calls :func:`~.seals.seal_due` instead.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable

from ..errors import StorageUnavailable
from ..storage import Storage
from .seals import GRACE_MS, seal_due

log = logging.getLogger(__name__)

JITTER_SECONDS = 30.0
"""Most random delay a worker adds before sealing, so workers rarely race on a seal."""


class Sealer:
    """Seals every log of a store each period, in a daemon thread of this process."""

    def __init__(
        self,
        storage: Storage,
        prefix: str,
        period_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.prefix = prefix
        self.period_ms = period_seconds * 1000
        self.clock = clock
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Started before a fork (gunicorn --preload), the thread stays in the parent: start
        # the child's own, as the mirror driver's replication does.
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        running = self._thread is not None
        self.stopping = threading.Event()
        self._thread = None
        if running:
            self.start()

    def start(self) -> None:
        """Seal in a background thread of this process: now, then once per period."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="stricture-audit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current pass."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def seal_once(self) -> list[str]:
        """One pass over every log; the keys of the seals stored."""
        return seal_due(self.storage, self.prefix, int(self.clock() * 1000), self.period_ms)

    def delay(self) -> float:
        """Seconds until the next period is due to be sealed, plus this worker's jitter."""
        now_ms = int(self.clock() * 1000)
        due = (now_ms - GRACE_MS) // self.period_ms * self.period_ms + self.period_ms + GRACE_MS
        return (due - now_ms) / 1000 + random.uniform(0, JITTER_SECONDS)  # noqa: S311 (a delay)

    def run(self) -> None:
        """Seal, then wait for the next period, until stopped; a failed pass waits too."""
        while not self.stopping.is_set():
            try:
                stored = self.seal_once()
                if stored:
                    log.info("audit sealed", extra={"fields": {"seals": len(stored)}})
            except StorageUnavailable as exc:
                # The next pass seals whatever this one could not.
                log.warning("audit sealing failed", extra={"fields": {"reason": exc.reason}})
            except Exception:
                log.exception("audit sealing failed")
            self.stopping.wait(self.delay())
