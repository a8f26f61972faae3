"""Alerts: the ingest's extra worker CPU with one matching rule, and delivery throughput.

Run in this process, as a worker builds the app (``create_app``), fs driver, same run:

1. CPU time medians of an ingest through ``App.handle`` of the real 110 KB artifact and its
   real diff (a new run id each time), without any alert rule and with one rule matching its
   50 high changes (so every ingest stores an alert of 50 changes in the outbox), batches
   interleaved (``validation_cost.paired``). Target: <= 10 % more CPU.
2. Delivery throughput: alerts drained from the outbox by one deliverer pass to a local
   receiver (lease, signed POST, attempt record per alert), against the same number of bare
   signed POSTs of the same bodies through the same transport (the baseline, same run).

    .venv/bin/python benchmarks/alerts.py
    .venv/bin/python benchmarks/alerts.py --rounds 3 --budget 0.2 --alerts 50   # a quick look
"""

from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from bodies import bodies, ingests
from validation_cost import paired

from stricture_server import Settings, create_app
from stricture_server.alerts.setup import deliverer
from stricture_server.alerts.signing import signed_headers
from stricture_server.alerts.transport import Transport
from stricture_server.config.file import load_config
from stricture_server.config.values import Secret

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _config(directory: Path, url: str, **narrowed: Any) -> Any:
    path = directory / "server.json"
    impacts = ["downstream", "self_only", "unknown"]
    rule = {"name": "high", "destinations": ["hook"], "impact": impacts, **narrowed}
    hook = {"type": "webhook", "url": url, "secrets": [{"env": "BENCH_SECRET"}]}
    alerts = {"organizations": {"bench": {"destinations": {"hook": hook}, "rules": [rule]}}}
    path.write_bytes(orjson.dumps({"version": 1, "alerts": alerts}))
    return load_config(str(path), {"BENCH_SECRET": SECRET})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.5, help="CPU seconds per batch")
    parser.add_argument("--alerts", type=int, default=200, help="alerts to deliver")
    options = parser.parse_args()
    body = bodies(large=False)[1]
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    logging.disable(logging.WARNING)
    with (
        tempfile.TemporaryDirectory() as plain,
        tempfile.TemporaryDirectory() as alerting,
        tempfile.TemporaryDirectory() as quiet,
    ):
        config = _config(Path(alerting), url)
        without = create_app(Settings(data_dir=plain, log_level="error"))
        # A rule that matches none of the run's changes (no change of this type).
        unmatched = _config(Path(quiet), url, change_types=["field_renamed_twice"])
        no_match = create_app(
            Settings(data_dir=quiet, log_level="error", config=unmatched, alert_allow_loopback=True)
        )
        settings = Settings(
            data_dir=alerting, log_level="error", config=config, alert_allow_loopback=True
        )
        with_rule = create_app(settings)
        ingest_with_rule = ingests(with_rule, body, "rule")
        plain_ms, rule_ms, quiet_ms = paired(
            [ingests(without, body, "plain"), ingest_with_rule, ingests(no_match, body, "quiet")],
            budget=options.budget,
            rounds=options.rounds,
        )
        outbox = Path(alerting).rglob("alerts/v1/org=bench/a/*.json")
        stored = [p.stat().st_size for p in outbox]
        print(
            f"ingest CPU, medians of {options.rounds} interleaved batches, fs driver, {body.name}\n"
        )
        print("| ingest | median ms |")
        print("|---|---:|")
        print(f"| without alert rules | {plain_ms:.2f} |")
        print(f"| one rule matching 50 high changes (an alert stored each time) | {rule_ms:.2f} |")
        print(f"| one rule matching none of its changes | {quiet_ms:.2f} |")
        print(f"\nextra CPU per ingest: {(rule_ms / plain_ms - 1) * 100:.1f} % (target <= 10 %)")
        print(f"extra CPU, rule matching nothing: {(quiet_ms / plain_ms - 1) * 100:.1f} %")
        print(f"alerts stored: {len(stored)}, median size {statistics.median(stored)} bytes\n")

        pending = deliverer(settings, with_rule.runs.storage, with_rule.runs.prefix)
        assert pending is not None
        # Deliver only the last alerts: as many as asked for, the rest marked delivered first.
        first = pending.run_once()
        for _ in range(options.alerts):
            ingest_with_rule()
        began = time.perf_counter()
        drained = pending.run_once()
        drain_s = time.perf_counter() - began
        payloads = [
            orjson.dumps(h.alert["payload"])
            for h in (
                pending.outbox.history("bench", i)
                for i in itertools.islice(pending.outbox.ids("bench"), options.alerts)
            )
        ]
        transport = Transport(allow_loopback=True)
        began = time.perf_counter()
        for n, payload in enumerate(payloads):
            headers = signed_headers(f"bare-{n}", payload, [Secret(SECRET)], _now())
            transport.post(url, payload, {"Content-Type": "application/json", **headers})
        bare_s = time.perf_counter() - began
    receiver.shutdown()
    print(
        "delivery to a local receiver (one deliverer, one pass; "
        f"{first.delivered} earlier alerts sent first)\n"
    )
    print("| what | alerts | seconds | alerts/s |")
    print("|---|---:|---:|---:|")
    bare_rate = len(payloads) / bare_s
    print(f"| bare signed POSTs (baseline) | {len(payloads)} | {bare_s:.2f} | {bare_rate:.0f} |")
    print(
        f"| deliverer pass (lease, POST, record) | {drained.delivered} | {drain_s:.2f} | "
        f"{drained.delivered / drain_s:.0f} |"
    )
    print(f"\ndeliverer / bare: {(drained.delivered / drain_s) / bare_rate:.2f}x")
    return 0


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


if __name__ == "__main__":
    raise SystemExit(main())
