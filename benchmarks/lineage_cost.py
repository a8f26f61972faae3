"""The lineage step's share of an ingest: extra worker CPU per 110 KB run, fs driver.

In this process, built by ``create_app`` as a worker builds it, CPU time medians with the
batches interleaved (``validation_cost.paired``), in the same run:

- a whole ingest through ``App.handle`` (the real 110 KB artifact and its real diff, a new
  run id each time), lineage step included;
- the lineage step alone, as ingest runs it on the same parsed body: derive the run's graph,
  append it to the org feed, store it beside the run, catch the org graph up and store the
  run's blast radius (the diff has one; a new run id each time).

The ingest without the lineage step is the difference; the target is <= 15 % more CPU. Every
call adds a feed entry within the skew margin, so the catching up lists more as it goes, as
in an org receiving that many runs within five minutes; the entry count is printed.

    .venv/bin/python benchmarks/lineage_cost.py
    .venv/bin/python benchmarks/lineage_cost.py --rounds 3 --budget 0.2   # a quick look
    .venv/bin/python benchmarks/lineage_cost.py --fresh-ms 1000   # one feed listing a second
"""

from __future__ import annotations

import argparse
import itertools
import logging
import tempfile
from pathlib import Path

import orjson
from bodies import bodies, ingests
from validation_cost import paired

from stricture_server import Settings, create_app
from stricture_server.blast.derive import derive
from stricture_server.runstore.records import RunIdentity


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.5, help="CPU seconds per batch")
    parser.add_argument(
        "--fresh-ms", type=int, default=0, help="STRICTURE_SERVER_LINEAGE_INGEST_FRESH_MS"
    )
    options = parser.parse_args()
    body = bodies(large=False)[1]
    document = orjson.loads(body.with_run_id("parsed"))
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            data_dir=data, log_level="error", lineage_ingest_fresh_ms=options.fresh_ms
        )
        app = create_app(settings)
        logging.disable(logging.INFO)
        numbers = itertools.count()

        ingest = ingests(app, body, "whole")

        def lineage_step() -> None:
            run_id = f"step-{next(numbers)}"
            identity = RunIdentity("bench", "checkout", "api", run_id)
            record_key = f"step/run={run_id}/payload.json"
            graph = derive(document["artifact"], run_id)
            app.lineage.after_ingest(identity, record_key, 0, graph, document["diff"], replay=False)

        def feed_step() -> None:
            run_id = f"feed-{next(numbers)}"
            identity = RunIdentity("bench", "checkout", "api", run_id)
            record_key = f"step/run={run_id}/payload.json"
            graph = derive(document["artifact"], run_id)
            app.lineage.after_ingest(identity, record_key, 0, graph, None, replay=False)

        whole, step, fed = paired(
            [ingest, lineage_step, feed_step], budget=options.budget, rounds=options.rounds
        )
        feed = sum(1 for _ in Path(data).rglob("lineage/v1/org=bench/feed/*/*.json"))
        blasts = sum(1 for _ in Path(data).rglob("blast-radius.json"))
    without = whole - step
    print(
        f"CPU time medians of {options.rounds} interleaved batches, fs driver, {body.name}, "
        f"ingest fresh period {options.fresh_ms} ms\n"
    )
    print("| step | median ms |")
    print("|---|---:|")
    print(f"| ingest, lineage step included | {whole:.2f} |")
    print(f"| the lineage step alone | {step:.2f} |")
    print(f"| ingest without the lineage step (difference) | {without:.2f} |")
    print(f"| the lineage step of a run without a diff (graph and feed only) | {fed:.2f} |")
    print(f"\nextra CPU per ingest: {step / without * 100:.1f} % (target <= 15 %)")
    print(f"extra CPU without the blast radius: {fed / without * 100:.1f} %")
    print(f"feed entries at the end: {feed}; blast radius objects: {blasts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
