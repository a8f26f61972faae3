"""The storage requests of one ingest that do not depend on each other, sent at once.

On an object store each request is a network round trip: a run's record, index objects and
lineage objects, written one after the other, cost one round trip each; sent together they
cost the slowest one, so ``s3`` and ``r2`` always send them at once.

On a filesystem (``fs``, and ``mirror``, whose creates are local) a create's wall time is
mostly waiting for its fsyncs, and creates sent at once wait together: a request alone in its
process answers sooner. Under load the same threads cost CPU the other requests of the
process want, so writes go at once only while the request is alone in its process (no other
request in :class:`InFlight`), and one after the other in the request's thread otherwise
(``docs/performance.md``, "Object-store latency per ingest"). Either way the set of writes,
their order in the list and the failure raised are the same; only their overlap differs.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")

THREADS = 8
"""Requests in flight per process: a run has at most five independent writes."""

CONCURRENT_DRIVERS = ("s3", "r2")
"""The drivers whose writes are network round trips, always worth sending at once."""

WHEN_ALONE_DRIVERS = ("fs", "mirror")
"""The drivers whose writes wait on local fsyncs: at once only while a request is alone."""


class InFlight:
    """How many requests this process is answering now: entered around each one.

    ``deque.append`` and ``deque.pop`` are atomic (the ``collections`` docs: thread-safe
    appends and pops), and ``len`` reads the count at once, so the threaded worker's threads
    count without a lock; gunicorn's sync worker has one request at a time per process.
    """

    def __init__(self) -> None:
        self._requests: deque[None] = deque()

    def __enter__(self) -> None:
        self._requests.append(None)

    def __exit__(self, *exc: object) -> None:
        self._requests.pop()

    def __len__(self) -> int:
        return len(self._requests)

    def alone(self) -> bool:
        """Whether the calling request is the only one in flight (or none is counted)."""
        return len(self._requests) <= 1


class Writes:
    """Runs a few calls at once on a small thread pool held by the app, made on first use.

    ``concurrent``: always at once. Otherwise, with ``in_flight``, at once while the calling
    request is alone in its process; without it, one after the other.
    """

    def __init__(
        self, *, concurrent: bool = True, in_flight: InFlight | None = None, threads: int = THREADS
    ) -> None:
        self.concurrent = concurrent
        self.in_flight = in_flight
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._owner = 0

    @classmethod
    def for_driver(cls, driver: str, in_flight: InFlight, threads: int = THREADS) -> Writes:
        """The policy of ``driver``: always at once, at once while alone, or one after the other."""
        if driver in CONCURRENT_DRIVERS:
            return cls(threads=threads)
        if driver in WHEN_ALONE_DRIVERS:
            return cls(concurrent=False, in_flight=in_flight, threads=threads)
        return cls(concurrent=False, threads=threads)

    def at_once(self) -> bool:
        """Whether calls made now go at once."""
        if self.concurrent:
            return True
        return self.in_flight is not None and self.in_flight.alone()

    def all(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Every call's result, in order, once every call has ended.

        The first failure in call order is raised, and only after every call has ended, so
        nothing is still writing when the caller answers. One after the other (stopping at
        the first failure) when the writes do not go at once.
        """
        if len(calls) < 2 or not self.at_once():
            return [call() for call in calls]
        futures: list[Future[T]] = [self._executor().submit(call) for call in calls]
        wait(futures)
        return [future.result() for future in futures]

    def start(self, call: Callable[[], T]) -> Future[T]:
        """Start ``call`` now, to use its result later (a read sent with the claim)."""
        if self.at_once():
            return self._executor().submit(call)
        done: Future[T] = Future()
        try:
            done.set_result(call())
        except Exception as exc:
            done.set_exception(exc)
        return done

    def _executor(self) -> ThreadPoolExecutor:
        pid = os.getpid()
        if self._pool is None or self._owner != pid:
            # Made in the process that uses it: a fork copies no thread, so a pool made before
            # a fork (gunicorn --preload) would hang its child. Two threads racing here make
            # two pools; the one not kept ends with its calls.
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="stricture-write")
            self._owner = pid
        return self._pool
