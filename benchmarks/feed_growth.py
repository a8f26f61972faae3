"""Worker CPU of a 110 KB ingest as the organization's recent runs pile up, fs driver.

An ingest with a diff catches its process's org graph up: it lists the lineage feed from its
newest applied entry minus the margin (``STRICTURE_SERVER_LINEAGE_SKEW_SECONDS``) and checks
each entry listed against those it applied; on ``fs`` the listing reads the day's directory.
In one process built by ``create_app`` as a worker builds it (the benchmarks' alert rule
included), this times, as CPU per ingest: the real 110 KB artifact with its real diff on a
fresh store, then the same after ``--runs`` small-envelope runs of the same organization (as
the suite's 110 KB phase follows its small-envelope phase), and the ratio between them.
``--skew-seconds`` sets the margin (default: the server's).

    .venv/bin/python benchmarks/feed_growth.py [--runs 6000] [--ingests 100] [--skew-seconds 300]
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
    parser.add_argument("--skew-seconds", type=int, default=0, help="the margin (0: default)")
    args = parser.parse_args()
    small, real = bodies(large=False)
    work = Path(tempfile.mkdtemp(prefix="feed-growth-"))
    rule = alert_rule(work)  # sets the rule's secret in this process's environment
    env = {**os.environ, "STRICTURE_SERVER_DATA_DIR": str(work / "data"), **rule}
    if args.skew_seconds:
        env["STRICTURE_SERVER_LINEAGE_SKEW_SECONDS"] = str(args.skew_seconds)
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
    print(f"feed entries of the organization today: {feed}")


if __name__ == "__main__":
    main()
