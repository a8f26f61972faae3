"""Worker CPU of a 110 KB ingest as the organization's recent runs pile up, fs driver.

An ingest with a diff catches its process's org graph up: it lists the lineage feed from its
newest applied entry minus the margin (``STRICTURE_SERVER_LINEAGE_SKEW_SECONDS``) and checks
each entry listed against those it applied; on ``fs`` the listing reads the day's directory.
In one process built by ``create_app`` as a worker builds it (the benchmarks' alert rule
included), this times, as CPU per ingest: the real 110 KB artifact with its real diff on a
fresh store, then the same after ``--runs`` small-envelope runs of the same organization (as
the suite's 110 KB phase follows its small-envelope phase), and the ratio between them.
``--skew-seconds`` sets the margin (default: the server's). ``--pause-seconds`` waits that
long before the second 110 KB measure: past the margin and the minute of the last small run,
what a catch-up lists is the organization's recent entries only where the listing is bounded
(the suite's 110 KB phase lasts minutes; its first seconds still list the small runs' last).

With ``--baseline <git revision>``, each measure runs in a fresh process of its own, this
tree's and that revision's (its package on ``PYTHONPATH``) alternating ``--rounds`` times, and
the table gives each and the medians: the ratios to compare are within the same run.

    .venv/bin/python benchmarks/feed_growth.py [--runs 6000] [--ingests 100] [--skew-seconds 300]
        [--pause-seconds 70] [--baseline 7b34e4e] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from bodies import bodies, ingests
from servers import alert_rule

from stricture_server import Settings, create_app


def cpu_ms(call: Callable[[], None], times: int) -> float:
    """CPU milliseconds per call of ``call``, over ``times`` calls."""
    start = time.process_time()
    for _ in range(times):
        call()
    return (time.process_time() - start) / times * 1000


def measure(runs: int, times: int, skew_seconds: int, pause: float) -> dict[str, float]:
    """One measure in this process: the CPU per 110 KB ingest fresh and after ``runs``."""
    small, real = bodies(large=False)
    work = Path(tempfile.mkdtemp(prefix="feed-growth-"))
    rule = alert_rule(work)  # sets the rule's secret in this process's environment
    env = {**os.environ, "STRICTURE_SERVER_DATA_DIR": str(work / "data"), **rule}
    if skew_seconds:
        env["STRICTURE_SERVER_LINEAGE_SKEW_SECONDS"] = str(skew_seconds)
    app = create_app(Settings.from_env(env))
    for handler in logging.getLogger("stricture_server").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(io.StringIO())
    fresh = cpu_ms(ingests(app, real, "fresh"), times)
    start = time.monotonic()
    cpu_ms(ingests(app, small, "small"), runs)
    took = time.monotonic() - start
    time.sleep(pause)
    later = cpu_ms(ingests(app, real, "later"), times)
    feeds = (work / "data").glob("**/org=bench/feed")
    feed = sum(len(files) for lineage in feeds for _, _, files in os.walk(lineage))
    return {"fresh": fresh, "later": later, "took": took, "feed": feed}


def alternating(args: argparse.Namespace) -> None:
    """This tree and ``args.baseline`` measured in fresh processes, alternating; a table."""
    from objectstore_latency import tree_of

    work = Path(tempfile.mkdtemp(prefix="feed-growth-trees-"))
    trees = {
        "this tree": {},
        f"`{args.baseline}`": {"PYTHONPATH": str(tree_of(args.baseline, work))},
    }
    command = [sys.executable, __file__, "--runs", str(args.runs), "--ingests", str(args.ingests)]
    command += ["--skew-seconds", str(args.skew_seconds), "--json"]
    command += ["--pause-seconds", str(args.pause_seconds)]
    found: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, extra in trees.items():
            done = subprocess.run(
                command, env={**os.environ, **extra}, capture_output=True, check=True
            )
            found[name].append(orjson.loads(done.stdout.splitlines()[-1]))
    print(f"| tree | 110 KB ingest, fresh store, ms CPU | after {args.runs} small runs | ratio |")
    print("|---|---:|---:|---:|")
    for name, measures in found.items():
        for m in [*measures, None]:
            row = m or {k: statistics.median(x[k] for x in measures) for k in ("fresh", "later")}
            label = name if m else f"{name}, median"
            ratio = row["later"] / row["fresh"]
            print(f"| {label} | {row['fresh']:.2f} | {row['later']:.2f} | {ratio:.2f}x |")


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=6000, help="small runs stored in between")
    parser.add_argument("--ingests", type=int, default=100, help="110 KB ingests timed each time")
    parser.add_argument("--skew-seconds", type=int, default=0, help="the margin (0: default)")
    parser.add_argument("--pause-seconds", type=float, default=0, help="before the last measure")
    parser.add_argument("--baseline", default="", help="a git revision measured alternately")
    parser.add_argument("--rounds", type=int, default=3, help="measures of each, with --baseline")
    parser.add_argument("--json", action="store_true", help="one measure, as a JSON line")
    args = parser.parse_args()
    if args.baseline:
        alternating(args)
        return
    found = measure(args.runs, args.ingests, args.skew_seconds, args.pause_seconds)
    if args.json:
        print(orjson.dumps(found).decode())
        return
    print(f"110 KB ingest, fresh store: {found['fresh']:.2f} ms CPU")
    ratio = found["later"] / found["fresh"]
    print(f"after {args.runs} small runs in {found['took']:.0f} s: {found['later']:.2f} ms CPU")
    print(f"({ratio:.2f}x); feed entries of the organization today: {found['feed']:.0f}")


if __name__ == "__main__":
    main()
