"""Slow and idle clients: does a fresh client still get answered while they hold connections?

The attack: ``idle`` connections that send nothing, and ``slow`` connections that send a
request head one byte a second and never finish it; each one the server closes is opened
again at once, so the pressure never drops. Meanwhile a fresh client sends ``GET /healthz``
and a 110 KB ingest in turn, each on a new connection, and their latencies are recorded. The
same probes run first with no attack, as the baseline of the same run.

Run alone: ``.venv/bin/python benchmarks/slowclients.py [--smoke]`` (prints the figures);
``bash benchmarks/run`` includes it in ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import http.client
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import report
from bodies import Body, bodies
from servers import rss_kib, start

PROBE_TIMEOUT = 30.0


@dataclass
class Probes:
    """Latencies (ms) of the fresh client's requests, and how many failed."""

    health_ms: list[float] = field(default_factory=list)
    ingest_ms: list[float] = field(default_factory=list)
    failures: int = 0

    @staticmethod
    def _p(values: list[float], q: int) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    def summary(self) -> dict[str, float]:
        """Medians and maxima of both probes."""
        return {
            "health_p50": self._p(self.health_ms, 50),
            "health_max": max(self.health_ms, default=float("nan")),
            "ingest_p50": self._p(self.ingest_ms, 50),
            "ingest_max": max(self.ingest_ms, default=float("nan")),
        }


@dataclass
class Attack:
    """What the attacking connections saw."""

    idle: int
    slow: int
    opened: int = 0
    answered_408: int = 0
    closed_silently: int = 0
    refused_connect: int = 0


@dataclass
class SlowClientFigures:
    """The whole measurement: baseline and attacked probes, the attack, worker memory."""

    server: str
    idle: int
    slow: int
    seconds: float
    header_timeout: int
    baseline: Probes
    attacked: Probes
    attack: Attack
    rss_before_kib: int
    rss_peak_kib: int


def _probe(port: int, body: Body, seconds: float, tag: str) -> Probes:
    """Alternate fresh-connection ``GET /healthz`` and ingest for ``seconds``."""
    probes = Probes()
    deadline = time.monotonic() + seconds
    number = 0
    while time.monotonic() < deadline:
        for kind in ("health", "ingest"):
            started = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
            try:
                if kind == "health":
                    connection.request("GET", "/healthz")
                else:
                    number += 1
                    connection.request(
                        "POST",
                        "/v1/artifacts",
                        body.with_run_id(f"{tag}-{number}"),
                        {"Content-Type": "application/json"},
                    )
                response = connection.getresponse()
                response.read()
                ok = response.status in (200, 202)
            except OSError:
                ok = False
            finally:
                connection.close()
            elapsed = (time.perf_counter() - started) * 1000
            if not ok:
                probes.failures += 1
            (probes.health_ms if kind == "health" else probes.ingest_ms).append(elapsed)
        time.sleep(0.05)
    return probes


@contextmanager
def _attacking(port: int, attack: Attack) -> Iterator[None]:
    """Hold ``attack.idle`` idle and ``attack.slow`` slow connections until the block ends."""
    stop = threading.Event()
    selector = selectors.DefaultSelector()
    slow_head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100_000

    def open_one(kind: str) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT)
        except OSError:
            attack.refused_connect += 1
            return
        sock.setblocking(False)
        attack.opened += 1
        selector.register(sock, selectors.EVENT_READ, [kind, 0])

    def run() -> None:
        for _ in range(attack.idle):
            open_one("idle")
        for _ in range(attack.slow):
            open_one("slow")
        next_byte = time.monotonic()
        while not stop.is_set():
            for key, _ in selector.select(timeout=0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    reply = sock.recv(4096)
                except OSError:
                    reply = b""
                if reply.startswith(b"HTTP/1.1 408"):
                    attack.answered_408 += 1
                else:
                    attack.closed_silently += 1
                selector.unregister(sock)
                sock.close()
                open_one(key.data[0])
            if time.monotonic() >= next_byte:
                next_byte += 1.0
                for key in list(selector.get_map().values()):
                    kind, sent = key.data
                    if kind == "slow":
                        try:
                            key.fileobj.send(slow_head[sent : sent + 1])  # type: ignore[union-attr]
                            key.data[1] = sent + 1
                        except OSError:
                            pass
        for key in list(selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        selector.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def measure(
    work: Path, body: Body, *, server: str, idle: int, slow: int, seconds: float, workers: int
) -> SlowClientFigures:
    """Probe ``server`` alone, then under the attack; the figures of both."""
    with start(server, work, workers) as running:
        pids = running.workers()
        baseline = _probe(running.port, body, seconds / 2, "baseline")
        before = sum(rss_kib(pid) for pid in pids)
        attack = Attack(idle=idle, slow=slow)
        peak = before
        with _attacking(running.port, attack):
            attacked = Probes()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                part = _probe(running.port, body, 1.0, f"attacked-{time.monotonic_ns()}")
                attacked.health_ms += part.health_ms
                attacked.ingest_ms += part.ingest_ms
                attacked.failures += part.failures
                peak = max(peak, sum(rss_kib(pid) for pid in running.workers()))
    return SlowClientFigures(
        server=server,
        idle=idle,
        slow=slow,
        seconds=seconds,
        header_timeout=10,
        baseline=baseline,
        attacked=attacked,
        attack=attack,
        rss_before_kib=before,
        rss_peak_kib=peak,
    )


def main() -> None:
    """Measure and print, without writing the docs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="briefly")
    args = parser.parse_args()
    work = Path(__file__).resolve().parent / ".work" / "slowclients"
    work.mkdir(parents=True, exist_ok=True)
    real = bodies(large=False)[1]
    seconds = 4.0 if args.smoke else 30.0
    results = report.Results(command="")
    results.slow = measure(
        work, real, server="stricture", idle=2000, slow=100, seconds=seconds, workers=5
    )
    print("\n".join(report._slow_clients(results)))


if __name__ == "__main__":
    main()
