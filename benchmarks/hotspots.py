"""Where an ingest spends its time: pyinstrument over ``App.handle``, in process, fs driver.

The app is built by ``create_app`` exactly as a worker builds it; only the socket is left out.
Self time is summed per function, so the table names the code that does the work.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bodies import Body
from werkzeug import Request
from werkzeug.test import EnvironBuilder

from stricture_server import Settings, create_app


@dataclass(frozen=True)
class Hotspots:
    """The heaviest functions by self time for one body."""

    body: str
    requests: int
    total_ms: float
    top: tuple[tuple[str, float], ...]
    """(function and file, share of the total)."""


def _walk(frame: Any, out: Counter[str], parent: str = "?") -> None:
    where = Path(frame.file_path or "").name or "?"
    key = f"{frame.function} ({where})" if frame.function else "?"
    if frame.function == "[self]":
        # pyinstrument's synthetic frame for time spent in the caller's own code.
        key = parent
    if not frame.children:
        out[key] += frame.time  # a leaf: all of its time is its own
    for child in frame.children:
        _walk(child, out, key)


def profile(body: Body, work: Path, *, requests: int, top: int = 10) -> Hotspots:
    """Profile ``requests`` ingests of ``body``; the top functions by self time."""
    from pyinstrument import Profiler

    data = work / "profile-data"
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(data),
        "STRICTURE_SERVER_MAX_BODY_BYTES": str(16 * 1024 * 1024),
    }
    app = create_app(Settings.from_env(env))
    # The access log line is part of the cost; write it where a worker would, minus the pipe.
    for handler in logging.getLogger("stricture_server").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(io.StringIO())
    tag = uuid.uuid4().hex[:8]
    environs = []
    for number in range(requests):
        builder = EnvironBuilder(
            path="/v1/artifacts",
            method="POST",
            data=body.with_run_id(f"profile-{tag}-{number}"),
            content_type="application/json",
        )
        environs.append(builder.get_environ())
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for environ in environs:
        status = app.handle(Request(environ)).status_code
        if status != 202:
            raise SystemExit(f"benchmarks: profiled ingest answered {status}")
    session = profiler.stop()
    counts: Counter[str] = Counter()
    root = profiler.last_session.root_frame() if profiler.last_session else None
    if root is not None:
        _walk(root, counts)
    total = session.duration
    ranked = tuple((name, seconds / total) for name, seconds in counts.most_common(top))
    return Hotspots(body.name, requests, total / requests * 1000, ranked)
