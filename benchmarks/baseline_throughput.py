"""The 110 KB ingest under load: the mandated floor, this tree and an earlier revision, together.

Usage: ``.venv/bin/python benchmarks/baseline_throughput.py <git revision> [--runs 3]
[--clients 1,4,16]``.

The three servers run side by side (5 workers each, fresh data directories, ``fs``), the
earlier revision's package on ``PYTHONPATH``; every figure alternates them, so a busy moment
of the shared machine hits all three. Prints medians and ratios against the mandated floor.

The comparison does the same work on both sides: the mandated floor runs under
stricture-server's worker class with its default threads per worker, and the servers have an
alert rule for the benchmark's organization, so each ingest stores the alert of its diff's
``high`` changes in the outbox as the floor does (the deliverer polls once an hour: delivery is
not part of an ingest, and the floor has none).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from pathlib import Path

from bodies import bodies
from ingest import load_server
from objectstore_latency import tree_of
from servers import alert_rule, start

from stricture_server.settings import Settings

CLIENTS = (1, 4, 16)
SECONDS = 4.0


def main() -> None:
    """Run and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("revision")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", default=",".join(map(str, CLIENTS)))
    args = parser.parse_args()
    clients_counts = tuple(int(c) for c in args.clients.split(","))
    work = Path(__file__).resolve().parent / ".work" / "baseline-throughput"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    real = bodies(large=False)[1]
    body = work / "body.json"
    body.write_bytes(real.template)
    names = ("mandated", "this tree", args.revision)
    found: dict[tuple[int, str], list[tuple[float, float, float]]] = {}
    alerting = alert_rule(work)
    earlier = {"PYTHONPATH": str(tree_of(args.revision, work)), **alerting}
    with (
        start("mandated", work, 5, threads=Settings().threads) as mandated,
        start("stricture", work, 5, alerting) as current,
        start("stricture", work, 5, earlier) as before,
    ):
        for clients in clients_counts:
            for _ in range(args.runs):
                for name, server in zip(names, (mandated, current, before), strict=True):
                    result = load_server(server, body, clients, SECONDS, 100_000)
                    found.setdefault((clients, name), []).append(
                        (result["rps"], result["p99_ms"], result["server_cpu_ms"])
                    )
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"| clients | req/s ({' / '.join(names)}) | this tree / mandated | "
        f"{args.revision} / mandated | p99 ms ({' / '.join(names)}) | p99 this tree / mandated "
        f"| p99 {args.revision} / mandated | worker CPU ms/req ({' / '.join(names)}) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for clients in clients_counts:
        rps, p99, cpu = (
            [statistics.median(run[i] for run in found[(clients, n)]) for n in names]
            for i in range(3)
        )
        print(
            f"| {clients} | {' / '.join(f'{x:.1f}' for x in rps)} | **{rps[1] / rps[0]:.2f}x** "
            f"| {rps[2] / rps[0]:.2f}x | {' / '.join(f'{x:.0f}' for x in p99)} "
            f"| {p99[1] / p99[0]:.2f}x | {p99[2] / p99[0]:.2f}x "
            f"| {' / '.join(f'{x:.2f}' for x in cpu)} |"
        )


if __name__ == "__main__":
    main()
