"""The read API at scale: time and storage requests per query over one busy service.

Stores ``--runs`` runs (default 10,000) of one service spread over ``--days`` days (default
30) through the ingest path (claim, record, index objects), then times each query of the read
API and counts the storage requests it makes. On ``fs`` a request is modelled as an object
store would bill it (a create, a read, or a listing page of up to 1000 keys); on ``s3`` the
driver runs against moto's server over HTTP and every request botocore sends is counted.

    .venv/bin/python benchmarks/query.py                 # fs
    .venv/bin/python benchmarks/query.py --driver s3     # s3 on moto (needs the dev extras)

Prints a Markdown table (docs/performance.md, "Read API").
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bodies import store_runs

from stricture_server.commands.reindex import record_keys, reindex
from stricture_server.reads.listings import Listings
from stricture_server.reads.query import Queries
from stricture_server.runstore.records import RunIdentity
from stricture_server.runstore.runs import RunStore
from stricture_server.settings import Settings
from stricture_server.storage import Storage
from stricture_server.storage.fs import FileStorage

PREFIX = "bench"
ORG, PROJECT, SERVICE = "acme", "checkout", "api"
START = datetime(2026, 3, 1, tzinfo=UTC)


class Counted:
    """A store that counts requests as an object store bills them (fs only)."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.requests = 0

    def create(self, key: str, data: bytes) -> None:
        self.requests += 1
        self.inner.create(key, data)

    def read(self, key: str) -> bytes:
        self.requests += 1
        return self.inner.read(key)

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        self.requests += 1  # the first page is asked for even when it is empty
        for n, key in enumerate(self.inner.list(prefix, start_after)):
            if n and n % 1000 == 0:
                self.requests += 1
            yield key


def envelope(n: int, days: int, runs: int, rng: random.Random) -> dict[str, Any]:
    """Run ``n`` of ``runs``, spread evenly over ``days`` days, with a commit and a diff."""
    moment = START + timedelta(seconds=n * days * 86400 / runs)
    changes = [
        {
            "severity": rng.choice(("high", "medium", "low", "info")),
            "change_type": rng.choice(("field_removed", "source_version_changed")),
            "field_id": f"field_{i}",
            "message": "changed",
        }
        for i in range(rng.randrange(0, 5))
    ]
    counts = {s: sum(1 for c in changes if c["severity"] == s) for s in ("high", "medium")}
    return {
        "organization": ORG,
        "project": PROJECT,
        "service": SERVICE,
        "run_id": f"run-{n:06d}",
        "commit_sha": f"{rng.getrandbits(160):040x}",
        "generated_at": moment.isoformat(),
        "artifact": {"schema_version": "1", "fields": []},
        "diff": {
            "summary": {"total": len(changes), "low": 0, "info": 0, **counts},
            "changes": changes,
        },
    }


def populate(storage: Storage, runs: int, days: int) -> list[str]:
    """Ingest ``runs`` runs as the app does; their commit shas."""
    rng = random.Random(7)
    documents = [envelope(n, days, runs, rng) for n in range(runs)]
    store_runs(storage, PREFIX, ((d, datetime.now(UTC)) for d in documents), jobs=16)
    return [d["commit_sha"] for d in documents]


def all_pages(fetch: Callable[[dict[str, list[str]]], dict[str, Any]], args: dict[str, str]) -> int:
    """Follow ``next_cursor`` to the end; the number of items seen."""
    seen = 0
    cursor = None
    while True:
        query = {k: [v] for k, v in args.items()}
        if cursor:
            query["cursor"] = [cursor]
        page = fetch(query)
        seen += len(page.get("runs", page.get("changes", [])))
        cursor = page["next_cursor"]
        if not cursor:
            return seen


def measure(
    name: str, action: Callable[[], object], requests: Callable[[], int], repeat: int
) -> tuple[str, float, int]:
    """Median milliseconds of ``repeat`` runs of ``action``, and its requests (the last run)."""
    times = []
    spent = 0
    for _ in range(repeat):
        before = requests()
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
        spent = requests() - before
    return name, statistics.median(times), spent


def moto_bucket() -> tuple[Settings, Callable[[], None]]:
    """Settings of the s3 driver on a new bucket of a new moto server, and its stop."""
    import boto3
    from moto.server import ThreadedMotoServer

    for name, value in (("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "x")):
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto's servers in one process share their buckets: each store gets a bucket of its own.
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    env = {
        "STRICTURE_SERVER_STORAGE_DRIVER": "s3",
        "STRICTURE_SERVER_OBJECT_BUCKET": bucket,
        "AWS_ENDPOINT_URL_S3": endpoint,
    }
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
    return Settings.from_env(env), server.stop


def s3_store() -> tuple[Storage, Callable[[], int], Callable[[], None]]:
    """The s3 driver on a fresh bucket of a moto server, and its request counter."""
    from stricture_server.storage.s3 import open_object_storage

    settings, stop = moto_bucket()
    storage = open_object_storage(settings, "s3")
    sent = [0]

    def count(**_: object) -> None:
        sent[0] += 1

    # One event per HTTP request botocore sends, retries included.
    storage.client.meta.events.register("before-send.s3", count)
    return storage, lambda: sent[0], stop


def open_store(
    driver: str, directory: str
) -> tuple[Storage, Callable[[], int], Callable[[], None]]:
    """The driver's store (``fs`` in ``directory``), its request count, and how to stop it."""
    if driver == "fs":
        counted = Counted(FileStorage(directory))
        return counted, lambda: counted.requests, lambda: None
    return s3_store()


def main() -> int:
    """Populate, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", choices=("fs", "s3"), default="fs")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        storage, requests, stop = open_store(options.driver, tmp)
        started = time.perf_counter()
        before = requests()
        shas = populate(storage, options.runs, options.days)
        ingest_s = time.perf_counter() - started
        per_ingest = (requests() - before) / options.runs
        queries = Queries(RunStore(storage, PREFIX))
        listings = Listings(storage, PREFIX)
        service = RunIdentity(ORG, PROJECT, SERVICE, "latest")
        day = (START + timedelta(days=options.days // 2)).date().isoformat()
        last = (START + timedelta(days=options.days - 1)).date().isoformat()
        first = START.date().isoformat()
        sha = shas[len(shas) // 2]

        def runs(args: dict[str, list[str]]) -> dict[str, Any]:
            return queries.runs_of(ORG, PROJECT, SERVICE, args)

        def changes(args: dict[str, list[str]]) -> dict[str, Any]:
            return queries.changes_of(ORG, PROJECT, SERVICE, args)

        rows = [
            ("`latest` (the record)", lambda: queries.latest(service)),
            (
                "one day, every run (limit 1000)",
                lambda: runs({"from": [day], "to": [day], "limit": ["1000"]}),
            ),
            ("30 days, first page of 100", lambda: runs({"from": [first], "to": [last]})),
            (
                "30 days, every run (pages of 1000)",
                lambda: all_pages(runs, {"from": first, "to": last, "limit": "1000"}),
            ),
            ("commit lookup, full sha", lambda: runs({"commit_sha": [sha]})),
            ("commit lookup, 7-digit prefix", lambda: runs({"commit_sha": [sha[:7]]})),
            ("change feed, page of 100", lambda: changes({})),
            ("change feed, page of 100, `severity=high`", lambda: changes({"severity": ["high"]})),
            ("project's services with latest runs", lambda: listings.services_of(ORG, PROJECT, {})),
        ]
        results = [measure(name, action, requests, options.repeat) for name, action in rows]
        keys = list(record_keys(storage, PREFIX))
        started = time.perf_counter()
        before = requests()
        rebuilt = reindex(storage, PREFIX, keys, jobs=16)
        reindex_s = time.perf_counter() - started
        reindex_requests = requests() - before
        stop()

    print(f"{options.runs} runs of one service over {options.days} days, driver `{options.driver}`")
    print(f"(ingest: {per_ingest:.2f} requests per run; {ingest_s:.1f} s for all, 16 threads)\n")
    print("| query | median ms | storage requests |")
    print("|---|---:|---:|")
    for name, ms, spent in results:
        print(f"| {name} | {ms:.1f} | {spent} |")
    print(
        f"| `reindex` of {rebuilt.records} records, nothing missing (16 jobs) | "
        f"{reindex_s * 1000:.0f} | {reindex_requests} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
