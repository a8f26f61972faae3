"""Worker CPU of a 110 KB ingest as the organization's recent runs pile up, fs driver.

An ingest with a diff catches its process's org graph up: it lists every lineage feed entry
of the skew margin (``STRICTURE_SERVER_LINEAGE_SKEW_SECONDS``, 300) and checks each against
those it applied. In one process built by ``create_app`` as a worker builds it (the
benchmarks' alert rule included), this times, as CPU per ingest: the real 110 KB artifact with
its real diff on a fresh store, then the same after ``--runs`` small-envelope runs of the same
organization stored within the margin (as the suite's 110 KB phase follows its small-envelope
phase), the ratio between them, and the entries each catch-up then lists.

    .venv/bin/python benchmarks/feed_growth.py [--runs 6000] [--ingests 100]
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bodies import bodies, ingests
from servers import alert_rule

from stricture_server import Settings, create_app


def cpu_ms(call: Callable[[], None], times: int) -> float:
    """CPU milliseconds per call of ``call``, over ``times`` calls."""
    start = time.process_time()
    for _ in range(times):
        call()
    return (time.process_time() - start) / times * 1000


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=6000, help="small runs stored in between")
    parser.add_argument("--ingests", type=int, default=100, help="110 KB ingests timed each time")
    args = parser.parse_args()
    small, real = bodies(large=False)
    work = Path(tempfile.mkdtemp(prefix="feed-growth-"))
    rule = alert_rule(work)  # sets the rule's secret in this process's environment
    env = {**os.environ, "STRICTURE_SERVER_DATA_DIR": str(work / "data"), **rule}
    app = create_app(Settings.from_env(env))
    for handler in logging.getLogger("stricture_server").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(io.StringIO())
    fresh = cpu_ms(ingests(app, real, "fresh"), args.ingests)
    start = time.monotonic()
    cpu_ms(ingests(app, small, "small"), args.runs)
    took = time.monotonic() - start
    later = cpu_ms(ingests(app, real, "later"), args.ingests)
    feeds = (work / "data").glob("**/org=bench/feed")
    feed = sum(len(files) for lineage in feeds for _, _, files in os.walk(lineage))
    print(f"110 KB ingest, fresh store: {fresh:.2f} ms CPU")
    ratio = later / fresh
    print(f"after {args.runs} small runs in {took:.0f} s: {later:.2f} ms CPU ({ratio:.2f}x)")
    print(f"feed entries of the organization, all within the margin: {feed}")


if __name__ == "__main__":
    main()
