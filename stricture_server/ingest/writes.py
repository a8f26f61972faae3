"""The storage requests of one ingest that do not depend on each other, sent at once.

On an object store each request is a network round trip: a run's record, index objects and
lineage objects, written one after the other, cost one round trip each; sent together they
cost the slowest one. On a filesystem they run one after the other in the calling thread:
writing at once shortens a lone ingest (its fsyncs overlap) but lowers throughput under load
(``docs/performance.md``, "Object-store latency per ingest").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")

THREADS = 8
"""Requests in flight per process: a run has at most five independent writes."""

CONCURRENT_DRIVERS = ("s3", "r2")
"""The drivers whose writes are network round trips, worth sending at once."""


class Writes:
    """Runs a few calls at once on a small thread pool held by the app, made on first use."""

    def __init__(self, *, concurrent: bool = True, threads: int = THREADS) -> None:
        self.concurrent = concurrent
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._owner = 0

    def all(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Every call's result, in order, once every call has ended.

        The first failure in call order is raised, and only after every call has ended, so
        nothing is still writing when the caller answers. One after the other (stopping at
        the first failure) when the writes are not concurrent.
        """
        if not self.concurrent or len(calls) < 2:
            return [call() for call in calls]
        futures: list[Future[T]] = [self._executor().submit(call) for call in calls]
        wait(futures)
        return [future.result() for future in futures]

    def start(self, call: Callable[[], T]) -> Future[T]:
        """Start ``call`` now, to use its result later (a read sent with the claim)."""
        if self.concurrent:
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
