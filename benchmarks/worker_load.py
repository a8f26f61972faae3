"""stricture-server's worker against gunicorn's sync worker serving the same app: 110 KB ingests.

Usage: ``.venv/bin/python benchmarks/worker_load.py [--revision REV] [--threads N] [--runs 5]
[--clients 1,4,16] [--seconds 4]``.

The servers run side by side (5 workers each, ``fs``, fresh data directories): this tree's app
under gunicorn's sync worker, the same app under stricture-server's own worker (``serve``), with
``--revision`` that revision's ``serve`` too (its package on ``PYTHONPATH``), and with
``--threads`` this tree's with that many threads per worker. Every run drives each server in
turn, the order rotating from one run to the next, so a busy moment of the shared machine and
the place in the order hit all of them alike; each ratio is the median of the ratios within a
run. ``bash benchmarks/run`` measures the first two for
``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from contextlib import ExitStack
from pathlib import Path

from bodies import Body, bodies
from ingest import LoadFigures, load_server
from objectstore_latency import tree_of
from servers import SYNC, Server, start

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
    threads: int = 0,
) -> dict[tuple[int, str], LoadFigures]:
    """Requests/s, p99 and worker CPU per (clients, server), the servers alternating.

    With ``revision``, that revision's server too; with ``threads``, this tree's server with
    that many threads per worker too (the default is two).
    """
    figures: dict[tuple[int, str], LoadFigures] = {}
    body_file = work / "worker-load-body.json"
    body_file.write_bytes(body.template)
    extra: list[tuple[str, dict[str, str]]] = []
    if revision:
        extra.append((revision, {"PYTHONPATH": str(tree_of(revision, work))}))
    if threads:
        extra.append((threads_name(threads), {"STRICTURE_SERVER_THREADS": str(threads)}))
    with ExitStack() as stack:
        servers = [stack.enter_context(start(name, work, workers)) for name in (SYNC, SERVER)]
        for name, settings in extra:
            server = stack.enter_context(start(SERVER, work, workers, settings))
            server.name = name
            servers.append(server)
        _drive(servers, figures, body_file, clients, runs, seconds)
    return figures


def threads_name(threads: int) -> str:
    """The name of the server with ``threads`` threads per worker in the figures."""
    return f"{SERVER}, {threads} thread{'s' if threads > 1 else ''}"


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
                result = load_server(server, body_file, count, seconds, 100_000)
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
    parser.add_argument("--threads", type=int, default=0, help="also with N threads per worker")
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
        threads=args.threads,
    )
    shutil.rmtree(work, ignore_errors=True)
    names = [SYNC, SERVER, *([args.revision] if args.revision else [])]
    names += [threads_name(args.threads)] if args.threads else []
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
