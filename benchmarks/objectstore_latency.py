"""Object-store latency per ingest: a real server on the s3 driver, 20 ms added per request.

Usage: ``.venv/bin/python benchmarks/objectstore_latency.py [--delay-ms 20] [--ingests 30]
[--baseline <git revision>]``; with ``--baseline`` the server of that revision runs beside
this tree's (same venv, its package on ``PYTHONPATH``), the two alternating.

moto's server, :mod:`latency_proxy` (in front of it, delaying every request) and
``stricture-server serve`` (one worker, s3 driver, reaching the store only through the proxy)
each run in a process of their own. In the same run, one ``PUT`` round trip is timed through
the same proxy with the server's own S3 client and create (a claim-sized object), and each
ingest's wall time is compared with it: a new run's writes cost two round trips if the claim
goes first and everything else together. Every request is counted at the proxy, with the
bytes it sent: an identical replay of a 10 MB run must upload nothing but its claim's create,
which the store refuses. The CPU time of each process per ingest says where the time of a
round of requests at once goes.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bodies import bodies
from latency_proxy import LatencyProxy, Seen, latency_proxy
from round_trips import Timed, breakdown
from servers import ROOT, VENV, free_port, start, wait_ready

from stricture_server.settings import Settings
from stricture_server.storage.s3 import open_object_storage

FAKE_AWS = {
    # moto accepts any credentials; botocore needs some to sign with. Never real ones.
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class Moto:
    """moto's server: its ``host:port`` and process id."""

    address: str
    pid: int


def cpu_seconds(pid: int) -> float:
    """CPU time of a process so far, its ended threads included (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def moto_process(work: Path) -> Iterator[Moto]:
    """moto's S3 server in a process of its own."""
    port = free_port()
    log = work / f"moto-{port}.log"
    command = [str(VENV / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, process, log, "/moto-api/")
        yield Moto(f"127.0.0.1:{port}", process.pid)
    finally:
        process.terminate()
        process.wait()


def _settings(proxy: LatencyProxy, bucket: str) -> dict[str, str]:
    return {
        "STRICTURE_SERVER_STORAGE_DRIVER": "s3",
        "STRICTURE_SERVER_OBJECT_BUCKET": bucket,
        "AWS_ENDPOINT_URL_S3": proxy.url,
        "STRICTURE_SERVER_LOG_LEVEL": "error",
    }


def post(port: int, body: bytes) -> tuple[int, float]:
    """One ingest on a new connection: its status and wall time (s)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        started = time.perf_counter()
        connection.request("POST", "/v1/artifacts", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        connection.close()


class Floors:
    """Timed the server's own way (its S3 client and create) through the same proxy."""

    def __init__(self, proxy: LatencyProxy, bucket: str) -> None:
        settings = Settings.from_env(_settings(proxy, bucket))
        self.store = open_object_storage(settings, "s3")
        self.pool = ThreadPoolExecutor(4)

    def _create(self, size: int) -> None:
        self.store.create(f"bench/floor/{uuid.uuid4().hex}.json", b"x" * size)

    def one_put(self) -> float:
        """Wall time (s) of one create of a claim-sized object."""
        started = time.perf_counter()
        self._create(CLAIM_BYTES)
        return time.perf_counter() - started

    def claim_then_four(self) -> float:
        """Wall time (s) of a claim-sized create, then four small creates at once.

        A new run's requests with nothing else: the claim, then the record, the timeline
        entry, the feed entry and the audit event. moto serves one request at a time, so four
        at once take it longer than one.
        """
        started = time.perf_counter()
        self._create(CLAIM_BYTES)
        list(self.pool.map(self._create, (2048, 256, 768, 546)))
        return time.perf_counter() - started


CLAIM_BYTES = 255
BIG_SAMPLES = 3


def describe(seen: list[Seen], runs: int) -> str:
    """Requests per run by method and what they are for, e.g. ``PUT 4, GET 1``."""
    counts = Counter(s.method for s in seen)
    return ", ".join(f"{method} {count / runs:g}" for method, count in sorted(counts.items()))


@dataclass
class Measured:
    """One server under test: its port, and per figure its wall times and requests."""

    name: str
    port: int = 0
    pids: tuple[int, int] = (0, 0)
    """The server's worker and moto's server, whose CPU time is counted."""
    times: dict[str, list[float]] = field(default_factory=dict)
    seen: dict[str, list[Seen]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    """Per figure: the server's, moto's and the proxy's CPU seconds, summed over its ingests."""
    timed: dict[str, list[Timed]] = field(default_factory=dict)

    def ingest(self, proxy: LatencyProxy, figure: str, body: bytes) -> None:
        """One ingest, its wall time, CPU and what it sent recorded under ``figure``."""
        proxy.take()
        before = [*map(cpu_seconds, self.pids), proxy.cpu_seconds()]
        began = time.time()  # the proxy's clock
        status, wall = post(self.port, body)
        ended = time.time()
        after = [*map(cpu_seconds, self.pids), proxy.cpu_seconds()]
        assert status == 202, status
        self.times.setdefault(figure, []).append(wall)
        seen = proxy.take()
        self.seen.setdefault(figure, []).extend(seen)
        self.timed.setdefault(figure, []).append(Timed(began, ended, seen))
        spent = self.cpu.setdefault(figure, [0.0, 0.0, 0.0])
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            spent[i] += a - b


def measure(delay_ms: float, ingests: int, baseline: str = "") -> list[str]:
    """Run the benchmark; the lines of its report (markdown).

    ``baseline``: a git revision whose server runs beside this tree's, alternating with it.
    """
    os.environ.update(FAKE_AWS)
    work = Path(__file__).resolve().parent / ".work"
    work.mkdir(parents=True, exist_ok=True)
    small, real, large = bodies()
    servers = [(Measured("this tree"), {})]
    if baseline:
        servers.append((Measured(f"`{baseline}`"), {"PYTHONPATH": str(tree_of(baseline, work))}))
    put: list[float] = []
    floor: list[float] = []
    with (
        moto_process(work) as moto,
        latency_proxy(moto.address, delay_ms / 1000) as proxy,
        ExitStack() as stack,
    ):
        import boto3

        admin = boto3.client("s3", endpoint_url=f"http://{moto.address}")
        for measured, extra in servers:
            # A bucket each: neither server reads the other's lineage feed.
            bucket = f"bench-{uuid.uuid4().hex[:12]}"
            admin.create_bucket(Bucket=bucket)
            env = {**_settings(proxy, bucket), **extra}
            server = stack.enter_context(start("stricture", work, 1, env))
            measured.port, measured.pids = server.port, (server.workers()[0], moto.pid)
            # The service's first run also enters its names: not a new run's cost.
            for body in (small, real):
                measured.ingest(proxy, "warm", body.with_run_id(f"warm-{uuid.uuid4().hex}"))
        floors = Floors(proxy, bucket)
        # Alternating, so a busy moment of the shared machine hits every figure alike.
        for _ in range(ingests):
            put.append(floors.one_put())
            floor.append(floors.claim_then_four())
            for measured, _ in servers:
                for body in (small, real):
                    measured.ingest(proxy, body.name, body.with_run_id(uuid.uuid4().hex))
        for _ in range(BIG_SAMPLES):
            for measured, _ in servers:
                run_id = f"big-{uuid.uuid4().hex}"
                measured.ingest(proxy, "new", large.with_run_id(run_id))
                measured.ingest(proxy, "replay", large.with_run_id(run_id))
    put_s, floor_s = statistics.median(put), statistics.median(floor)
    lines = [
        f"One PUT round trip through the proxy ({delay_ms:g} ms added per request), "
        f"median of {ingests}: **{put_s * 1000:.1f} ms**; a claim-sized PUT then four "
        f"small PUTs at once (a new run's requests and nothing else): "
        f"**{floor_s * 1000:.1f} ms** ({floor_s / put_s:.2f}x one PUT).",
        "",
        "| server | ingest | wall ms (median) | / one PUT | target | / two round trips "
        "| requests per ingest (at the proxy) | bytes sent per ingest "
        "| CPU ms per ingest: server / moto / proxy |",
        "|---|---|---:|---:|---|---:|---|---:|---|",
    ]
    figures = [
        (small.name, f"new run, {small.name}", "<= 2.3x"),
        (real.name, f"new run, {real.name}", "<= 2.3x"),
        ("new", f"new run, {large.name}", ""),
        ("replay", f"identical replay, {large.name}", "uploads nothing"),
    ]
    for figure, label, target in figures:
        for measured, _ in servers:
            walls, seen = measured.times[figure], measured.seen[figure]
            wall = statistics.median(walls)
            sent = sum(s.sent_bytes for s in seen) // len(walls)
            cpu = " / ".join(f"{c * 1000 / len(walls):.1f}" for c in measured.cpu[figure])
            lines.append(
                f"| {measured.name} | {label} | {wall * 1000:.1f} | **{wall / put_s:.2f}x** "
                f"| {target} | {wall / floor_s:.2f}x | {describe(seen, len(walls))} | {sent:,} "
                f"| {cpu} |"
            )
    for figure, label in (
        (small.name, f"new run, {small.name},"),
        (real.name, f"new run, {real.name},"),
    ):
        by_server = [(m.name, m.timed[figure]) for m, _ in servers]
        lines += ["", *breakdown(label, by_server)]
    for measured, _ in servers:
        replay = measured.seen["replay"][: len(measured.seen["replay"]) // BIG_SAMPLES]
        uploads = [s for s in replay if s.method in ("PUT", "POST")]
        lines += [
            "",
            f"What one replay sent ({measured.name}): "
            + "; ".join(f"{s.method} {_what(s.path)} ({s.sent_bytes:,} B)" for s in replay)
            + f". Uploads: {len(uploads)}.",
        ]
    return lines


def tree_of(revision: str, work: Path) -> Path:
    """The package as of ``revision``, extracted under ``work`` (for ``PYTHONPATH``)."""
    tree = work / f"tree-{revision.replace('/', '_')}"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", revision, "stricture_server"], cwd=ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def _what(path: str) -> str:
    """``claim``, ``listing of <prefix end>``... from a request path, for the report."""
    unquoted = urllib.parse.unquote(path)
    if "list-type=2" in unquoted:
        prefix = urllib.parse.parse_qs(urllib.parse.urlsplit(unquoted).query)["prefix"][0]
        return f"listing of .../{'/'.join(prefix.rstrip('/').split('/')[-2:])}"
    return ".../" + "/".join(unquoted.split("?")[0].split("/")[-2:])


def main() -> None:
    """Print the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--ingests", type=int, default=30)
    parser.add_argument("--baseline", default="", help="a git revision to run beside this tree")
    args = parser.parse_args()
    print("\n".join(measure(args.delay_ms, args.ingests, args.baseline)))


if __name__ == "__main__":
    main()
