"""A storage port that counts and times every operation of the driver it wraps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ObjectExists, ObjectNotFound
from ..storage import Renewing, Storage
from .recorder import Metrics

# Answers, not failures: a taken key is an identical replay or a conflict, a missing one a 404.
_OUTCOMES = (ObjectExists, ObjectNotFound)


class MeasuredStorage:
    """``storage`` with each operation counted, timed and its failures counted."""

    def __init__(self, storage: Storage, driver: str, metrics: Metrics) -> None:
        self.storage = storage
        self.driver = driver
        self.metrics = metrics

    def renew(self) -> None:
        """Renew the measured store's per-instance state, if it holds any."""
        if isinstance(self.storage, Renewing):
            self.storage.renew()

    @contextmanager
    def _measured(self, operation: str) -> Iterator[None]:
        started = time.perf_counter()
        failed = False
        try:
            yield
        except (*_OUTCOMES, GeneratorExit):
            # GeneratorExit: a caller that stops reading a listing had what it needed.
            raise
        except BaseException:
            failed = True
            raise
        finally:
            labels = (self.driver, operation)
            self.metrics.storage_requests.labels(*labels).inc()
            self.metrics.storage_latency.labels(*labels).observe(time.perf_counter() - started)
            if failed:
                self.metrics.storage_errors.labels(*labels).inc()

    def create(self, key: str, data: bytes) -> None:
        """The driver's create, measured."""
        with self._measured("create"):
            self.storage.create(key, data)

    def read(self, key: str) -> bytes:
        """The driver's read, measured."""
        with self._measured("read"):
            return self.storage.read(key)

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """The driver's listing, measured until the caller stops reading it."""
        with self._measured("list"):
            yield from self.storage.list(prefix, start_after)
