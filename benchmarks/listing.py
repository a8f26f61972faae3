"""Listings of names at scale: time and storage requests per page of projects and services.

Two stores, each of one organization: 10,000 projects of one service each, and one project of
5,000 services, one run per service. The runs' index objects are first written as a store from
before name entries held them, and the first page is timed by scanning the index; then the
name entries are written and the store marked complete, as ``reindex`` leaves it, and the first
page and every page (``limit=1000``) are timed from the entries. Requests are counted as in
``query.py``: on ``fs`` as an object store would bill them, on ``s3`` (moto's server over HTTP)
every request botocore sends.

    .venv/bin/python benchmarks/listing.py                 # fs
    .venv/bin/python benchmarks/listing.py --driver s3     # s3 on moto (needs the dev extras)
    .venv/bin/python benchmarks/listing.py --smoke         # 300 projects, 200 services
    .venv/bin/python benchmarks/listing.py --only services # one of the two stores

Prints Markdown tables (docs/performance.md, "Listings").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from query import PREFIX, measure, open_store

from stricture_server.reads.listings import Listings
from stricture_server.runstore.entries import Summary, to_ms
from stricture_server.runstore.index import RunFacts, ServiceRef
from stricture_server.runstore.names import Names
from stricture_server.storage import Storage

ORG = "acme"
WHEN = to_ms(datetime(2026, 3, 1, tzinfo=UTC))


@dataclass(frozen=True)
class Shape:
    """One store: how many projects, and services in each."""

    projects: int
    services: int

    def refs(self) -> list[ServiceRef]:
        """Every service of the store."""
        return [
            ServiceRef(ORG, f"project-{p:05d}", f"service-{s:05d}")
            for p in range(self.projects)
            for s in range(self.services)
        ]

    @property
    def title(self) -> str:
        """How the tables name it."""
        return f"{self.projects:,} projects x {self.services:,} services"


def write_all(storage: Storage, refs: list[ServiceRef], one: Callable[[ServiceRef], Any]) -> None:
    """``one`` for every service, 16 at a time."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, refs))


def populate_index(storage: Storage, refs: list[ServiceRef]) -> None:
    """One run per service, its index objects only: a store from before name entries."""

    def one(ref: ServiceRef) -> None:
        summary = Summary(f"run-{ref.service}", WHEN, WHEN, False, None, None)
        for key, body in RunFacts(ref, summary, ()).objects(PREFIX):
            storage.create(key, body)

    write_all(storage, refs, one)


def add_names(storage: Storage, refs: list[ServiceRef]) -> None:
    """The name entries of every service, then the mark: the store as ``reindex`` leaves it."""
    names = Names(storage, PREFIX)
    write_all(storage, refs, lambda ref: names.add(ref.organization, ref.project, ref.service))
    names.mark_complete()


def every_page(fetch: Callable[[dict[str, list[str]]], dict[str, Any]], key: str) -> int:
    """Follow ``next_cursor`` with ``limit=1000`` to the end; the number of names seen."""
    seen = 0
    cursor = None
    while True:
        query = {"limit": ["1000"], **({"cursor": [cursor]} if cursor else {})}
        page = fetch(query)
        seen += len(page[key])
        cursor = page["next_cursor"]
        if not cursor:
            return seen


def run(shape: Shape, driver: str, repeat: int) -> list[tuple[str, float, int]]:
    """Populate one store, time its listings; the rows of its table."""
    with tempfile.TemporaryDirectory() as tmp:
        storage, requests, stop = open_store(driver, tmp)
        refs = shape.refs()
        populate_index(storage, refs)
        listings = Listings(storage, PREFIX)
        if shape.services == 1:
            label, key = "projects", "projects"

            def fetch(args: dict[str, list[str]]) -> dict[str, Any]:
                return listings.projects_of(ORG, args)
        else:
            label, key = "services (each with its latest run)", "services"
            project = refs[0].project

            def fetch(args: dict[str, list[str]]) -> dict[str, Any]:
                return listings.services_of(ORG, project, args)

        first = f"{label}, first page of 100"
        rows = [measure(f"{first}, scanning the index", lambda: fetch({}), requests, 1)]
        started = time.perf_counter()
        add_names(storage, refs)
        print(f"  names entered in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        rows.append(measure(f"{first}, from name entries", lambda: fetch({}), requests, repeat))
        walk = f"{label}, every page (limit 1000), from name entries"
        rows.append(measure(walk, lambda: every_page(fetch, key), requests, repeat))
        assert every_page(fetch, key) == len(refs)
        stop()
    return rows


def main() -> int:
    """Populate, measure, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", choices=("fs", "s3"), default="fs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="small stores, each timing once")
    parser.add_argument("--only", choices=("projects", "services"), help="one of the stores")
    options = parser.parse_args()
    shapes = [Shape(10_000, 1), Shape(1, 5_000)]
    if options.smoke:
        shapes, options.repeat = [Shape(300, 1), Shape(1, 200)], 1
    if options.only:
        shapes = [s for s in shapes if (s.services == 1) == (options.only == "projects")]
    for shape in shapes:
        print(f"{shape.title}...", file=sys.stderr, flush=True)
        rows = run(shape, options.driver, options.repeat)
        print(f"\n`{options.driver}`, {shape.title}, one run each:\n")
        print("| listing | ms | storage requests |")
        print("|---|---:|---:|")
        for name, ms, spent in rows:
            print(f"| {name} | {ms:.1f} | {spent} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
