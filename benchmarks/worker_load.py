"""stricture-server's worker against gunicorn's sync worker serving the same app: 110 KB ingests.

Usage: ``.venv/bin/python benchmarks/worker_load.py [--revision REV] [--runs 5]
[--clients 1,4,16] [--seconds 4]``.

The servers run side by side (5 workers each, ``fs``, fresh data directories): this tree's app
under gunicorn's sync worker, the same app under stricture-server's own worker (``serve``), and
with ``--revision`` that revision's ``serve`` too (its package on ``PYTHONPATH``). Every run
drives each server in turn, the order rotating from one run to the next, so a busy moment of
the shared machine and the place in the order hit all of them alike; each ratio is the median of
the ratios within a run. ``bash benchmarks/run`` measures the first two for
``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from pathlib import Path

from bodies import Body, bodies
from ingest import LoadFigures, load
from objectstore_latency import tree_of
from servers import SYNC, Server, cpu_ns, start

SERVER = "stricture"
"""The name of this tree's ``stricture-server serve`` in the figures."""


def throughput(
    work: Path,
    body: Body,
    *,
    workers: int,
    clients: tuple[int, ...],
    runs: int,
    seconds: float,
    revision: str = "",
) -> dict[tuple[int, str], LoadFigures]:
    """Requests/s, p99 and worker CPU per (clients, server), the servers alternating."""
    figures: dict[tuple[int, str], LoadFigures] = {}
    body_file = work / "worker-load-body.json"
    body_file.write_bytes(body.template)
    earlier = {"PYTHONPATH": str(tree_of(revision, work))} if revision else None
    with start(SYNC, work, workers) as sync, start(SERVER, work, workers) as real:
        servers = [sync, real]
        if earlier is None:
            _drive(servers, figures, body_file, clients, runs, seconds)
            return figures
        with start(SERVER, work, workers, earlier) as before:
            before.name = revision
            _drive([*servers, before], figures, body_file, clients, runs, seconds)
    return figures


def _drive(
    servers: list[Server],
    figures: dict[tuple[int, str], LoadFigures],
    body_file: Path,
    clients: tuple[int, ...],
    runs: int,
    seconds: float,
) -> None:
    for count in clients:
        for run in range(runs):
            turn = run % len(servers)
            for server in servers[turn:] + servers[:turn]:
                pids = server.workers()
                used = sum(cpu_ns(pid) for pid in pids)
                result = load(server.port, body_file, count, seconds, 100_000)
                used = sum(cpu_ns(pid) for pid in pids) - used
                result["server_cpu_ms"] = used / 1e6 / max(result["completed"], 1)
                figures.setdefault((count, server.name), LoadFigures()).runs.append(result)


def ratio(figures: dict[tuple[int, str], LoadFigures], clients: int, name: str = SERVER) -> float:
    """The median over the runs of ``name``'s requests/s over the sync worker's in the same run."""
    pairs = zip(figures[(clients, name)].runs, figures[(clients, SYNC)].runs, strict=True)
    return statistics.median(mine["rps"] / sync["rps"] for mine, sync in pairs)


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--revision", default="", help="also serve this git revision")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    work = Path(__file__).resolve().parent / ".work" / "worker-load"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    clients = tuple(int(c) for c in args.clients.split(","))
    figures = throughput(
        work,
        bodies(large=False)[1],
        workers=5,
        clients=clients,
        runs=args.runs,
        seconds=args.seconds,
        revision=args.revision,
    )
    shutil.rmtree(work, ignore_errors=True)
    names = [SYNC, SERVER, *([args.revision] if args.revision else [])]
    print(
        f"| clients | req/s ({' / '.join(names)}) | {' | '.join(f'{n} / sync' for n in names[1:])} "
        f"| p99 ms ({' / '.join(names)}) | worker CPU ms/req ({' / '.join(names)}) |"
    )
    print("|---|---|" + "---|" * (len(names) - 1) + "---|---|")
    for count in clients:
        found = [figures[(count, name)] for name in names]
        rps = " / ".join(f"{f.median('rps'):.1f}" for f in found)
        ratios = " | ".join(f"**{ratio(figures, count, name):.2f}x**" for name in names[1:])
        p99 = " / ".join(f"{f.median('p99_ms'):.0f}" for f in found)
        cpu = " / ".join(f"{f.median('server_cpu_ms'):.2f}" for f in found)
        print(f"| {count} | {rps} | {ratios} | {p99} | {cpu} |")


if __name__ == "__main__":
    main()
