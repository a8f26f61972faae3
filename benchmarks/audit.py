"""The audit trail's share of an ingest: extra worker CPU per 110 KB run, fs driver.

In this process, built by ``create_app`` as a worker builds it, CPU time medians with the
batches interleaved (``validation_cost.paired``), in the same run:

- a whole ingest through ``App.handle`` (the real 110 KB artifact and its real diff, a new
  run id each time), its audit event included;
- the audit step alone, as ``App.handle`` runs it after an ingest: describe the request from
  the route table, name the identity, write the event (one durable create);
- sealing, per event: one seal of a period holding ``--events`` events (reading and hashing
  each, reading the previous seal), divided by their number. Every worker runs one pass per
  period, but only one stores the seal; the others stop at the create.

The ingest without the audit step is the difference; the target (issue 14) is <= 10 % more
worker CPU for the audit trail and the JWT check of a request together.

    .venv/bin/python benchmarks/audit.py
    .venv/bin/python benchmarks/audit.py --rounds 3 --budget 0.2   # a quick look
"""

from __future__ import annotations

import argparse
import itertools
import logging
import tempfile
import time
from typing import Any

from bodies import bodies, ingests
from validation_cost import paired

from stricture_server import Settings, create_app
from stricture_server.audit.events import Event
from stricture_server.audit.identity import identity_of
from stricture_server.audit.routes import describe
from stricture_server.audit.seals import seal_log
from stricture_server.audit.trail import AuditTrail

HOUR_MS = 3_600_000


def sealing_per_event(events: int) -> float:
    """CPU ms per event of sealing one period of ``events`` events (fs, a fresh store)."""
    with tempfile.TemporaryDirectory() as data:
        app = create_app(Settings(data_dir=data, log_level="error"))
        trail = AuditTrail(app.runs.storage, app.runs.prefix)
        start = (int(time.time() * 1000) // HOUR_MS - 3) * HOUR_MS
        for n in range(events):
            trail.write(_event(start + n, {"organization": "bench", "run_id": f"r{n}"}))
        began = time.process_time()
        stored = seal_log(app.runs.storage, app.runs.prefix, "bench", start + 3 * HOUR_MS, HOUR_MS)
        spent = time.process_time() - began
        if len(stored) != 1:
            raise SystemExit("benchmarks: the period was not sealed once")
    return spent / events * 1000


def _event(time_ms: int, target: dict[str, str]) -> Event:
    return Event(
        time_ms=time_ms,
        request_id="01a22974-5c6e-74d1-b496-21da8a0f52b4",
        identity={"kind": "shared-token"},
        action="ingest",
        result="accepted",
        status=202,
        target={"project": "checkout", "service": "api", **target},
        digest="sha256:" + "0" * 64,
        record="stricture/v1/org=bench/project=checkout/service=api/date=2026-11-29/run=r/payload.json",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.5, help="CPU seconds per batch")
    parser.add_argument("--events", type=int, default=2000, help="events in the sealed period")
    options = parser.parse_args()
    body = bodies(large=False)[1]
    with tempfile.TemporaryDirectory() as data:
        app = create_app(Settings(data_dir=data, log_level="error"))
        logging.disable(logging.INFO)
        numbers = itertools.count()

        ingest = ingests(app, body, "whole")

        fields: dict[str, Any] = {
            "organization": "bench",
            "project": "checkout",
            "service": "api",
            "replay": False,
            "digest": "sha256:" + "0" * 64,
            "record_key": "stricture/v1/org=bench/.../payload.json",
        }

        def audit_step() -> None:
            event = describe(
                "/v1/artifacts",
                "POST",
                202,
                time_ms=int(app.clock().timestamp() * 1000),
                request_id="01a22974-5c6e-74d1-b496-21da8a0f52b4",
                identity=identity_of(app.settings.auth_mode, 202, fields),
                fields={**fields, "run_id": f"step-{next(numbers)}"},
                names={},
            )
            assert event is not None
            app.audit.write(event)

        whole, step = paired([ingest, audit_step], budget=options.budget, rounds=options.rounds)
    sealing = sealing_per_event(options.events)
    without = whole - step
    print(f"CPU time medians of {options.rounds} interleaved batches, fs driver, {body.name}\n")
    print("| step | median ms |")
    print("|---|---:|")
    print(f"| ingest, audit event included | {whole:.3f} |")
    print(f"| the audit step alone (describe, identity, one durable create) | {step:.3f} |")
    print(f"| ingest without the audit step (difference) | {without:.3f} |")
    print(f"| sealing, per event (one period of {options.events} events) | {sealing:.3f} |")
    print(f"\nextra CPU per ingest: {step / without * 100:.1f} % for the event")
    print(f"with its share of sealing: {(step + sealing) / without * 100:.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
