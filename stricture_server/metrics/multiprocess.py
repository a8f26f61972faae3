"""Metrics under several gunicorn workers: one directory the workers write their values to.

``prometheus_client`` picks its multiprocess mode from ``PROMETHEUS_MULTIPROC_DIR`` when it is
first imported, so the directory is made, and the variable set, in gunicorn's master before
it forks any worker. A fresh directory per start: values left by an earlier run would be
added to this one's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_directory() -> Iterator[str]:
    """A new directory for the workers' values, named in the environment they inherit."""
    directory = tempfile.mkdtemp(prefix="stricture-server-metrics-")
    os.environ[VARIABLE] = directory
    try:
        yield directory
    finally:
        os.environ.pop(VARIABLE, None)
        shutil.rmtree(directory, ignore_errors=True)


def directory() -> str:
    """The directory this process writes its values to; empty outside multiprocess mode."""
    return os.environ.get(VARIABLE, "")


def worker_exited(server: Any, worker: Any) -> None:
    """gunicorn's ``child_exit`` hook: drop the live gauges of a worker that is gone.

    Counters and histograms of the worker stay: a total never goes down.
    """
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, directory())  # type: ignore[no-untyped-call]
