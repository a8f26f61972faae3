"""The lineage endpoints on a generated org: assembling its graph, a run's blast radius, pages.

The org of ``benchmarks/graph.py`` (``--services`` services, default 500, of 40 systems each
reading 5 upstreams: 20,000 systems, 100,000 edges) is written to the org feed as ingest writes
it, one entry per service, ``--spacing`` seconds apart. Then, in one process built like a
worker (``App`` on the store, snapshots every ``--snapshot-every`` entries), wall time and
storage requests of:

- assembling the org graph cold from the feed alone, then cold from the snapshot that first
  assembly wrote, then warm with nothing new;
- one ingest with a 300-change diff (blast radius at depth 8 stored at ingest) of a
  middle-tier service and of a tier-0 one (the most upstream), the process warm;
- ``GET /v1/graph/{org}`` whole, narrowed to one system, and a blast radius read.

On ``fs`` a request is counted as an object store bills it; on ``s3`` every request botocore
sends to a moto server (in this process, so its time is included) is counted.

    .venv/bin/python benchmarks/lineage_org.py                  # fs
    .venv/bin/python benchmarks/lineage_org.py --driver s3      # s3 on moto
    .venv/bin/python benchmarks/lineage_org.py --services 50    # a quick look
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from typing import Any

import orjson
from graph import TIERS, artifact, diff_of, system
from query import open_store
from werkzeug import Request
from werkzeug.test import EnvironBuilder

from stricture_server.app import App
from stricture_server.auth import make_authenticator
from stricture_server.blast import keys
from stricture_server.blast.feed import append
from stricture_server.ingest.validation import EnvelopeValidator
from stricture_server.lineage.edges import RunGraph
from stricture_server.lineage.graph import Location
from stricture_server.runstore.runs import RunStore
from stricture_server.settings import Settings
from stricture_server.storage import Storage

PREFIX = "stricture"
ORG = "bench"


def worker(storage: Storage, snapshot_every: int) -> App:
    """A new process's app on ``storage``: its org graphs start from what is stored."""
    settings = Settings(
        object_prefix=PREFIX,
        log_level="error",
        validation="object",
        lineage_snapshot_every=snapshot_every,
    )
    return App(
        settings,
        RunStore(storage, PREFIX),
        make_authenticator(settings),
        EnvelopeValidator(strict=False, max_errors=settings.max_errors),
    )


def call(app: App, method: str, path: str, body: bytes = b"") -> bytes:
    """One request through ``App.handle``; its body, or an exit on an unexpected status."""
    environ = EnvironBuilder(
        path=path, method=method, data=body, content_type="application/json"
    ).get_environ()
    response = app.handle(Request(environ))
    if response.status_code not in (200, 202):
        raise SystemExit(f"benchmarks: {method} {path} answered {response.status_code}")
    return response.get_data()


Measure = Callable[[str, Callable[[], Any], Callable[[Any], str]], None]


def feed_pages(
    options: argparse.Namespace, app: App, measure: Measure, artifacts: list[dict[str, Any]]
) -> None:
    """Two pages of the org-wide change feed once every service has a run with a diff: the
    feed lists every service's timeline, so every service gets a run (its artifact as in the
    feed, and one change of a field no system declares, so the ingests stay cheap)."""
    change = {
        "severity": "high",
        "change_type": "field_removed",
        "field_id": "gone",
        "message": "m",
    }
    summary = {"total": 1, "high": 1, "medium": 0, "low": 0, "info": 0}
    for s in range(options.services):
        document = {
            "organization": ORG,
            "project": f"p{s % 20:02d}",
            "service": f"svc{s:03d}",
            "run_id": f"feed-{s}",
            "artifact": artifacts[s],
            "diff": {"summary": summary, "changes": [change]},
        }
        call(app, "POST", "/v1/artifacts", orjson.dumps(document))
    pages: list[Any] = []

    def page() -> Any:
        cursor = pages[-1]["next_cursor"] if pages else None
        query = f"?limit=100{f'&cursor={cursor}' if cursor else ''}"
        pages.append(orjson.loads(call(app, "GET", f"/v1/changes/{ORG}{query}")))
        return pages[-1]

    for n in (1, 2):
        measure(
            f"GET /v1/changes/{{org}}?limit=100, page {n} ({options.services} services)",
            page,
            lambda found: f"{len(found['changes'])} changes",
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", choices=("fs", "s3"), default="fs")
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--systems", type=int, default=40)
    parser.add_argument("--reads", type=int, default=5)
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--snapshot-every", type=int, default=200)
    parser.add_argument(
        "--spacing", type=int, default=60, help="seconds between two services' feed entries"
    )
    options = parser.parse_args()
    rng = random.Random(12)
    artifacts = [artifact(s, options, rng) for s in range(options.services)]
    rows: list[tuple[str, float, int, str]] = []

    with tempfile.TemporaryDirectory() as tmp:
        storage, requests, stop = open_store(options.driver, tmp)

        def measure(name: str, action: Callable[[], Any], note: Callable[[Any], str]) -> None:
            before = requests()
            started = time.perf_counter()
            result = action()
            spent = (time.perf_counter() - started) * 1000
            rows.append((name, spent, requests() - before, note(result)))

        root = keys.org_root(PREFIX, ORG)
        now = time.time_ns() // 1_000_000
        for s, found in enumerate(artifacts):
            graph = RunGraph.from_artifact(found, f"run-{s}")
            where = Location(ORG, f"p{s % 20:02d}", f"svc{s:03d}")
            # Spread in time as runs arrive: only the margin's worth is read again after a
            # snapshot, not the whole feed.
            written = now - (options.services - s) * options.spacing * 1000
            append(storage, root, where, s, graph, written)

        def assemble(app: App) -> Any:
            return app.orgs.feed(ORG).current()

        def sizes(found: Any) -> str:
            graph, version = found
            snapshot = "from a snapshot" if version.snapshot else "no snapshot"
            return f"{len(graph.systems()):,} systems, {graph.edge_count():,} edges, {snapshot}"

        first = worker(storage, options.snapshot_every)
        measure("assemble the org graph cold, feed only", lambda: assemble(first), sizes)
        second = worker(storage, options.snapshot_every)
        measure("assemble it cold from the snapshot", lambda: assemble(second), sizes)
        measure("assemble it warm, nothing new", lambda: assemble(second), sizes)

        per_tier = max(1, options.services // TIERS)
        for service in (options.services // 2, 0):
            mine = [system(service, n).lower() for n in range(options.systems)]
            document = {
                "organization": ORG,
                "project": f"p{service % 20:02d}",
                "service": f"svc{service:03d}",
                "run_id": "with-diff",
                "artifact": artifacts[service],
                "diff": diff_of(mine, options.changes),
            }
            body = orjson.dumps(document)
            measure(
                f"ingest a {options.changes}-change diff of a tier-{service // per_tier} service "
                f"(blast radius at depth {options.depth} at ingest if within the ingest reach)",
                lambda body=body: call(second, "POST", "/v1/artifacts", body),
                lambda _, body=body: f"{len(body):,} bytes of body",
            )
        location = f"{ORG}/p{0:02d}/svc{0:03d}/with-diff"
        measure(
            "GET the tier-0 run's blast radius",
            lambda: call(second, "GET", f"/v1/blast-radius/{location}"),
            lambda data: f"{len(data):,} bytes, computed {orjson.loads(data)['computed']}",
        )
        measure(
            "GET it again (stored)",
            lambda: call(second, "GET", f"/v1/blast-radius/{location}"),
            lambda data: f"{len(data):,} bytes, computed {orjson.loads(data)['computed']}",
        )
        measure(
            "GET /v1/graph/{org}",
            lambda: call(second, "GET", f"/v1/graph/{ORG}"),
            lambda data: f"{len(data):,} bytes",
        )
        one = system(options.services // 2, 0).lower()
        measure(
            "GET /v1/graph/{org}?system=<a tier-5 system>&depth=2",
            lambda: call(second, "GET", f"/v1/graph/{ORG}?system={one}&depth=2"),
            lambda data: f"{len(data):,} bytes",
        )
        feed_pages(options, second, measure, artifacts)
        stop()

    print(
        f"{options.services} services x {options.systems} systems x {options.reads} reads, "
        f"{options.driver} driver; wall time of one run each\n"
    )
    print("| step | ms | storage requests | size |")
    print("|---|---:|---:|---|")
    for name, ms, spent, note in rows:
        print(f"| {name} | {ms:.0f} | {spent} | {note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
