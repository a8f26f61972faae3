"""Server CPU per 110 KB ingest against the mandated floor's steps, same run: in process or HTTP.

Usage: ``.venv/bin/python benchmarks/ingest_cpu.py [--baseline <git revision>] [--rounds 9]
[--http]``.

Each side runs in a process of its own, kept for the whole run: the mandated floor's steps
(:mod:`mandated`: the measure before parsing, the parse, then every step of
:data:`mandated.STEPS`), this tree's ``App.handle`` and, with ``--baseline``, the same
``App.handle`` of an earlier revision (its package first on ``PYTHONPATH``). The servers are
built as a worker builds them, by ``GunicornServer.load`` (``fs``, the benchmarks' alert rule,
so each ingest stores an alert as the floor does; the request log line written to memory). Every
round sends each process a batch of ingests of the real 110 KB artifact and its diff, each
with a new run id, one process after the other (each round starting with the next), so a busy
moment of the shared machine hits all of them. Per ingest: CPU time of the whole process
(every thread); a round's figures are the mean of its batch (what throughput sees: a rare
costly ingest counts) and its median; the table shows medians over rounds, and the median of
the per-round ratios of means to the mandated floor.

With ``--http`` the same sides are real servers instead, each with one worker (the mandated
floor under stricture-server's worker class, as in ``baseline_throughput.py``), sent the
ingests one at a time over loopback, the order turning each round as above: the worker's CPU
per request from ``/proc/<pid>/task/*/schedstat``, so HTTP parsing, the body's reading from
the socket and the answer count too. The first round warms up and is not counted.
"""

from __future__ import annotations

import argparse
import gc
import io
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from bodies import bodies

HERE = Path(__file__).resolve().parent
MANDATED = "mandated floor"


def _server_ingest(work: Path) -> Callable[[int], int]:
    """One ``App.handle`` of a new 110 KB run; its CPU ns."""
    from servers import alert_rule
    from werkzeug import Request
    from werkzeug.test import EnvironBuilder

    from stricture_server import Settings
    from stricture_server.serving.server import GunicornServer

    rule = alert_rule(work)  # sets its secret's variable in os.environ
    env = {
        **os.environ,
        "STRICTURE_SERVER_DATA_DIR": str(work / "data"),
        "STRICTURE_SERVER_MAX_BODY_BYTES": str(16 * 1024 * 1024),
        **rule,
    }
    # What gunicorn has each worker call after the fork (the app, its threads, what the
    # revision sets up for the worker's process), without a socket.
    app = GunicornServer(Settings.from_env(env)).load().app
    # The request line is part of the cost: formatted as a worker does, written to memory.
    for handler in logging.getLogger("stricture_server").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(io.StringIO())
    real, tag = bodies(large=False)[1], uuid.uuid4().hex[:8]

    def ingest(number: int) -> int:
        body = real.with_run_id(f"cpu-{tag}-{number}")
        environ = EnvironBuilder(
            path="/v1/artifacts", method="POST", data=body, content_type="application/json"
        ).get_environ()
        used = time.process_time_ns()
        status = app.handle(Request(environ)).status_code
        used = time.process_time_ns() - used
        if status != 202:
            raise SystemExit(f"benchmarks: ingest answered {status}")
        return used

    return ingest


def _mandated_ingest(work: Path) -> Callable[[int], int]:
    """The mandated floor's parse and steps for a new 110 KB run; their CPU ns."""
    import mandated

    root = str(work / "mandated")
    os.makedirs(root, exist_ok=True)
    real, tag = bodies(large=False)[1], uuid.uuid4().hex[:8]

    def ingest(number: int) -> int:
        body = real.with_run_id(f"cpu-{tag}-{number}")
        used = time.process_time_ns()
        mandated.ingest(body, root)
        return time.process_time_ns() - used

    return ingest


def _child(kind: str, work: Path) -> None:
    """Answer each line ``<n>`` on stdin with the CPU ns of ``n`` ingests, and the part of it
    the cyclic garbage collector took, as a JSON line."""
    ingest = _mandated_ingest(work) if kind == "mandated" else _server_ingest(work)
    collecting = [0, 0]  # the start of the pass under way, the total

    def collector(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collecting[0] = time.process_time_ns()
        else:
            collecting[1] += time.process_time_ns() - collecting[0]

    gc.callbacks.append(collector)
    done = 0
    for line in sys.stdin:
        collecting[1] = 0
        figures = [ingest(done + i) for i in range(int(line))]
        done += len(figures)
        sys.stdout.write(orjson.dumps({"cpu": figures, "gc": collecting[1]}).decode() + "\n")
        sys.stdout.flush()


@dataclass
class _Figures:
    """One side's figures, per round, in ms per ingest."""

    name: str
    means: list[float] = field(default_factory=list)
    medians: list[float] = field(default_factory=list)
    collected: list[float] = field(default_factory=list)
    """The cyclic garbage collector's share, per batch (in process only)."""

    def add(self, figures: list[int]) -> None:
        """One round's CPU ns per ingest."""
        self.means.append(statistics.fmean(figures) / 1e6)
        self.medians.append(statistics.median(figures) / 1e6)


class _Side:
    """One measured process, driven over its stdin."""

    def __init__(self, name: str, kind: str, work: Path, pythonpath: str | None = None) -> None:
        self.name = name
        work.mkdir(parents=True)
        env = dict(os.environ)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        command = [sys.executable, str(Path(__file__)), "--child", kind, "--work", str(work)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )
        self.figures = _Figures(name)

    def batch(self, count: int) -> list[int]:
        """CPU ns of ``count`` ingests; the collector's share per ingest goes to the figures."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{count}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"benchmarks: the {self.name} process ended")
        found = orjson.loads(line)
        figures: list[int] = found["cpu"]
        self.figures.collected.append(found["gc"] / 1e6 / count)
        return figures

    def close(self) -> None:
        """End the process (its stdin closed, it returns)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def _over_http(args: argparse.Namespace, work: Path) -> list[_Figures]:
    """Worker CPU per request over HTTP: one one-worker server per side, posts one at a time."""
    from servers import alert_rule, cpu_ns, post, start

    from stricture_server.settings import Settings

    rule = alert_rule(work)
    named = [(MANDATED, "mandated", {}), ("this tree", "stricture", rule)]
    if args.baseline:
        from objectstore_latency import tree_of

        pythonpath = str(tree_of(args.baseline, work))
        named.append((args.baseline, "stricture", {**rule, "PYTHONPATH": pythonpath}))
    real, tag = bodies(large=False)[1], uuid.uuid4().hex[:8]
    found = [_Figures(name) for name, _, _ in named]
    sent = 0
    with ExitStack() as stack:
        servers = [
            stack.enter_context(start(kind, work, 1, env, threads=Settings().threads))
            for _, kind, env in named
        ]
        for number in range(args.rounds + 1):  # the first round warms up
            turn = number % len(servers)
            for index in [*range(turn, len(servers)), *range(turn)]:
                server = servers[index]
                (worker,) = server.workers()
                figures = []
                for _ in range(args.batch):
                    body = real.with_run_id(f"cpu-{tag}-{sent}")
                    sent += 1
                    used = cpu_ns(worker)
                    if post(server.port, body) != 202:
                        raise SystemExit(f"benchmarks: {found[index].name} refused an ingest")
                    figures.append(cpu_ns(worker) - used)
                if number:
                    found[index].add(figures)
    return found


def main() -> None:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", help="a git revision to measure beside this tree")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batch", type=int, default=40, help="ingests per round and side")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument(
        "--http", action="store_true", help="worker CPU per request over HTTP instead"
    )
    parser.add_argument("--child", choices=("server", "mandated"), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.work)
        return
    work = HERE / ".work" / "ingest-cpu"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    found = _over_http(args, work) if args.http else _in_process(args, work)
    shutil.rmtree(work, ignore_errors=True)
    floor = found[0].means
    what = "worker CPU ms per request over HTTP" if args.http else "CPU ms per ingest"
    print(
        f"{args.rounds} rounds of {args.batch} ingests per side, "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"| side | {what}: mean | range of rounds | median | / mandated floor "
        "| of which garbage collector |"
    )
    print("|---|---:|---|---:|---:|---:|")
    for side in found:
        ratio = statistics.median(m / f for m, f in zip(side.means, floor, strict=True))
        collected = f"{statistics.fmean(side.collected):.3f}" if side.collected else "-"
        print(
            f"| {side.name} | {statistics.median(side.means):.2f} | {min(side.means):.2f} to "
            f"{max(side.means):.2f} | {statistics.median(side.medians):.2f} | {ratio:.2f}x "
            f"| {collected} |"
        )


def _in_process(args: argparse.Namespace, work: Path) -> list[_Figures]:
    """CPU per ingest in process: one process per side, driven over its stdin."""
    sides = [
        _Side(MANDATED, "mandated", work / "mandated"),
        _Side("this tree", "server", work / "tree"),
    ]
    if args.baseline:
        from objectstore_latency import tree_of

        tree = str(tree_of(args.baseline, work))
        sides.append(_Side(args.baseline, "server", work / "baseline", tree))
    try:
        for side in sides:
            side.batch(args.warmup)
            side.figures.collected.clear()
        for number in range(args.rounds):
            # Each round starts with the next side: none is always the one after another.
            turn = number % len(sides)
            for side in sides[turn:] + sides[:turn]:
                side.figures.add(side.batch(args.batch))
    finally:
        for side in sides:
            side.close()
    return [side.figures for side in sides]


if __name__ == "__main__":
    main()
