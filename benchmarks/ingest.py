"""Ingest over HTTP: throughput and latency under load, and the cost of one 10 MB ingest.

Both servers run side by side; every measurement alternates floor and stricture-server, so a
slower moment of the shared machine hits both.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from bodies import Body
from servers import HERE, Server, alert_rule, cpu_ns, post, python, reset_peak, rss_kib, start

from stricture_server.settings import Settings


@dataclass
class LoadFigures:
    """Medians over the runs of one (body, clients, server)."""

    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        """The median of one figure over the runs."""
        values = [r[key] for r in self.runs if r[key] is not None]
        return statistics.median(values) if values else float("nan")

    @property
    def errors(self) -> int:
        """Non-202 answers over all runs."""
        return sum(sum(r["errors"].values()) for r in self.runs)


def load(port: int, body_file: Path, clients: int, seconds: float, cap: int) -> dict[str, Any]:
    command = [
        python(),
        str(HERE / "load.py"),
        f"--port={port}",
        f"--body={body_file}",
        f"--clients={clients}",
        f"--seconds={seconds}",
        f"--max-requests={cap}",
    ]
    done = subprocess.run(command, capture_output=True, check=True)
    result: dict[str, Any] = orjson.loads(done.stdout)
    return result


def load_server(
    server: Server, body_file: Path, clients: int, seconds: float, cap: int
) -> dict[str, Any]:
    """:func:`load` against ``server``, with its workers' CPU per request (``server_cpu_ms``)."""
    workers = server.workers()
    used = sum(cpu_ns(pid) for pid in workers)
    result = load(server.port, body_file, clients, seconds, cap)
    used = sum(cpu_ns(pid) for pid in workers) - used
    result["server_cpu_ms"] = used / 1e6 / max(result["completed"], 1)
    return result


def throughput(
    bodies: list[Body],
    work: Path,
    *,
    workers: int,
    clients: tuple[int, ...],
    runs: int,
    seconds: float,
    mandated_for: str = "",
) -> dict[tuple[str, int, str], LoadFigures]:
    """Requests/s and latency per (body, clients, server), the servers alternating.

    The body named ``mandated_for`` also goes to the mandated floor (``mandated.py``).
    """
    figures: dict[tuple[str, int, str], LoadFigures] = {}
    with (
        start("floor", work, workers) as floor,
        start("stricture", work, workers, alert_rule(work)) as real,
        start("mandated", work, workers, threads=Settings().threads) as mandated,
    ):
        for body in bodies:
            servers = (floor, real, mandated) if body.name == mandated_for else (floor, real)
            body_file = work / "body.json"
            body_file.write_bytes(body.template)
            # Large bodies: bounded by count too, so one run stays a few seconds of disk.
            cap = 100_000 if body.size < 1_000_000 else max(8, int(seconds * 8))
            for count in clients:
                for _ in range(runs):
                    for server in servers:
                        result = load_server(server, body_file, count, seconds, cap)
                        key = (body.name, count, server.name)
                        figures.setdefault(key, LoadFigures()).runs.append(result)
                print(f"  {body.name}, {count} clients: done", flush=True)
    return figures


@dataclass
class BigIngest:
    """One server's cost of ingesting the large body: worker CPU and peak RSS growth."""

    cpu_ms: list[float] = field(default_factory=list)
    growth_kib: list[int] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


def big_ingest(body: Body, small: Body, work: Path, *, samples: int) -> dict[str, BigIngest]:
    """Worker CPU time and peak RSS growth for one large ingest, on a fresh one-worker server."""
    found = {name: BigIngest() for name in ("floor", "stricture")}
    for sample in range(samples):
        for name, figures in found.items():
            with start(name, work, 1) as server:
                (worker,) = server.workers()
                post(server.port, small.with_run_id(f"warm-{sample}"))
                for attempt in range(3):
                    reset_peak(worker)
                    before = rss_kib(worker)
                    used = cpu_ns(worker)
                    status = post(server.port, body.with_run_id(f"big-{sample}-{attempt}"))
                    time.sleep(0.02)  # let the worker finish closing the connection
                    figures.cpu_ms.append((cpu_ns(worker) - used) / 1e6)
                    figures.statuses.append(status)
                    if attempt == 0:
                        # The first large body on a fresh worker: nothing kept from before.
                        figures.growth_kib.append(rss_kib(worker, "VmHWM") - before)
                time.sleep(0.05)
    return found
