"""The change feed with and without compacts: time and storage requests per page.

Stores ``--runs`` runs (default 10,000) of one service over ``--days`` days (default 30) with
the real diffs of ``../shared/fixtures`` (read in place): every run carries the small real diff
(2 changes), one in 25 the large one (295 changes, 185 KB), one in 10 none, one in 60 the small
one with a third change of a type no other run has (a sparse filter); each is received
seconds after its time, one in 50 the next day (a late run). Then each change-feed page is
read without compacts (one index object per run), the compacts are made (as ``reindex`` makes
them; timed), and the same pages are read from them (the sparse filter's first page, which
makes its roll-up, timed apart). On ``fs`` a request is counted as an
object store bills it, on ``s3`` (moto's server over HTTP) every request botocore sends, as in
``query.py``.

    .venv/bin/python benchmarks/compact.py                 # fs
    .venv/bin/python benchmarks/compact.py --driver s3     # s3 on moto (needs the dev extras)

Prints a Markdown table (docs/performance.md, "Compacts").
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from bodies import store_runs
from query import PREFIX, measure, open_store

from stricture_server.compact.build import Compactor
from stricture_server.reads.listings import Listings
from stricture_server.reads.org_changes import OrgChanges
from stricture_server.reads.query import Queries
from stricture_server.runstore.index import ServiceRef
from stricture_server.runstore.runs import RunStore
from stricture_server.storage import Storage

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
ORG, PROJECT, SERVICE = "acme", "checkout", "api"
START = datetime(2026, 3, 1, tzinfo=UTC)
GRACE_MS = 3_600_000


def diffs() -> tuple[dict[str, Any], dict[str, Any]]:
    """The real small and large diffs."""
    small = orjson.loads((FIXTURES / "lineage-diff-small.json").read_bytes())
    large = orjson.loads((FIXTURES / "lineage-diff-baseline-to-current.json").read_bytes())
    return small, large


RARE = "field_renamed"
"""A change type of one run in 60 of the service (about 5 a day): a sparse filter."""
RARE_EVERY = 60


def populate(storage: Storage, runs: int, days: int, services: int) -> None:
    """Store ``runs`` runs of the service, and one run a day of each of ``services`` other
    services of the organization (in ten projects), as ingest does."""
    small, large = diffs()
    renamed = {**small["changes"][0], "change_type": RARE}
    summary = {**small["summary"], "total": 3, "high": small["summary"]["high"] + 1}
    rare = {**small, "summary": summary, "changes": [*small["changes"], renamed]}
    rng = random.Random(16)

    def one(n: int) -> tuple[dict[str, Any], datetime]:
        moment = START + timedelta(seconds=n * days * 86400 / runs)
        document: dict[str, Any] = {
            "organization": ORG,
            "project": PROJECT,
            "service": SERVICE,
            "run_id": f"run-{n:06d}",
            "generated_at": moment.isoformat(),
            "artifact": {"schema_version": "1", "fields": []},
        }
        pick = rng.random()
        if n % RARE_EVERY == RARE_EVERY // 2:
            document["diff"] = rare
        elif pick >= 0.1:
            document["diff"] = large if n % 25 == 0 else small
        received = moment + (timedelta(days=1) if n % 50 == 7 else timedelta(seconds=5))
        return document, received

    def other(n: int) -> tuple[dict[str, Any], datetime]:
        day, service = divmod(n, services)
        moment = START + timedelta(days=day, seconds=(service * 86400) // services + 3)
        document: dict[str, Any] = {
            "organization": ORG,
            "project": f"project-{service % 10}",
            "service": f"service-{service:03d}",
            "run_id": f"other-{n:06d}",
            "generated_at": moment.isoformat(),
            "artifact": {"schema_version": "1", "fields": []},
            "diff": small,
        }
        return document, moment + timedelta(seconds=5)

    store_runs(storage, PREFIX, (one(n) for n in range(runs)))
    store_runs(storage, PREFIX, (other(n) for n in range(days * services)))


def deep_cursor(queries: Queries, pages: int) -> str:
    """The cursor of page ``pages + 1`` of the unfiltered feed."""
    cursor = None
    for _ in range(pages):
        args = {"cursor": [cursor]} if cursor else {}
        cursor = queries.changes_of(ORG, PROJECT, SERVICE, args)["next_cursor"]
    assert cursor
    return str(cursor)


def main() -> int:
    """Populate, measure before and after compaction, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", choices=("fs", "s3"), default="fs")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--services", type=int, default=199, help="other services of the org")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        storage, requests, stop = open_store(options.driver, tmp)
        started = time.perf_counter()
        populate(storage, options.runs, options.days, options.services)
        populate_s = time.perf_counter() - started
        runs = RunStore(storage, PREFIX)
        compactor = Compactor(storage, PREFIX, GRACE_MS)
        plain, compacted = Queries(runs), Queries(runs, compactor)
        listings = Listings(storage, PREFIX)
        deep = deep_cursor(plain, 20)
        day = (START + timedelta(days=options.days // 2)).date().isoformat()
        pages: list[tuple[str, dict[str, list[str]]]] = [
            ("page of 100", {}),
            ("page of 100, `severity=high`", {"severity": ["high"]}),
            ("page of 100, `change_type=field_removed`", {"change_type": ["field_removed"]}),
            ("page of 100, `change_type=nope` (no match)", {"change_type": ["nope"]}),
            ("page of 100, `impact=downstream` (no match)", {"impact": ["downstream"]}),
            ("page of 100, one day (`from`=`to`)", {"from": [day], "to": [day]}),
            ("21st page of 100 (by cursor)", {"cursor": [deep]}),
            (f"page of 100, `change_type={RARE}` (~5 a day)", {"change_type": [RARE]}),
            (
                f"page of 100, `change_type={RARE},nope` (two types: no roll-up)",
                {"change_type": [f"{RARE},nope"]},
            ),
        ]
        everyone = f"{options.services + 1} services"
        org_pages: list[tuple[str, dict[str, list[str]]]] = [
            (f"org-wide feed, page of 100, {everyone}", {}),
            (f"org-wide feed, page of 100, `severity=high`, {everyone}", {"severity": ["high"]}),
            (
                f"org-wide feed, `change_type=nope` (no match), {everyone}",
                {"change_type": ["nope"]},
            ),
            (
                f"org-wide feed, `change_type={RARE}` (~5 a day), {everyone}",
                {"change_type": [RARE]},
            ),
        ]

        def rows(queries: Queries) -> list[tuple[str, float, int]]:
            org = OrgChanges(queries, listings)
            found = []
            for name, args in pages:

                def page(args: dict[str, list[str]] = args) -> object:
                    return queries.changes_of(ORG, PROJECT, SERVICE, args)

                found.append(measure(name, page, requests, options.repeat))
            for name, args in org_pages:

                def org_page(args: dict[str, list[str]] = args) -> object:
                    return org.changes_of(ORG, args)

                found.append(measure(name, org_page, requests, options.repeat))
            return found

        before = rows(plain)
        started = time.perf_counter()
        made_at = requests()
        made = compactor.compact_service(ServiceRef(ORG, PROJECT, SERVICE))
        compact_s = time.perf_counter() - started
        compact_requests = requests() - made_at
        started, made_at = time.perf_counter(), requests()
        org_made = compactor.compact_organization(ORG)
        org_s = time.perf_counter() - started
        org_requests = requests() - made_at
        # The first sparse pages make the roll-ups they read (the rows below read them).
        sparse = {"change_type": [RARE]}
        made_at, started = requests(), time.perf_counter()
        compacted.changes_of(ORG, PROJECT, SERVICE, sparse)
        rollup = (time.perf_counter() - started) * 1000, requests() - made_at
        made_at, started = requests(), time.perf_counter()
        OrgChanges(compacted, listings).changes_of(ORG, sparse)
        org_rollup = (time.perf_counter() - started) * 1000, requests() - made_at
        after = rows(compacted)
        stop()
    print(
        f"{options.runs} runs of one service over {options.days} days, driver "
        f"`{options.driver}` (stored in {populate_s:.0f} s); {made} compacts made in "
        f"{compact_s:.1f} s, {compact_requests} requests; {options.services} other services "
        f"with a run a day; {org_made} organization compacts made in {org_s:.1f} s, "
        f"{org_requests} requests; the first `change_type={RARE}` page made its roll-up "
        f"in {rollup[0]:.0f} ms, {rollup[1]} requests (org-wide: {org_rollup[0]:.0f} ms, "
        f"{org_rollup[1]} requests)\n"
    )
    print("| change feed | ms without | requests without | ms with | requests with | time ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for (name, ms, spent), (_, ms_after, spent_after) in zip(before, after, strict=True):
        ratio = ms_after / ms if ms else 0.0
        print(f"| {name} | {ms:.1f} | {spent} | {ms_after:.1f} | {spent_after} | {ratio:.3f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
