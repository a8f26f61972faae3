"""Compacts give the change feed the answers it gives without them, for fewer requests."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from stricture_server.compact.artifact import Compact, CompactRun, decode
from stricture_server.compact.keys import DAYS, LATE, parse_day
from stricture_server.compact.stats import parse_marker, stats_of
from stricture_server.runstore.entries import Summary
from stricture_server.runstore.index import ServiceRef
from stricture_server.storage import Storage
from stricture_server.storage.fs import FileStorage
from stricture_server.storage.s3 import S3Storage

from .compaction import DAY0, FILTERS, GRACE_MS, ORG, PROJECT, SERVICE, TYPES, History, pages
from .objectstore import emulator, new_bucket, s3_storage
from .test_s3 import sent

REF = ServiceRef(ORG, PROJECT, SERVICE)
SUMMARY = Summary("r", 0, 0, False, None, None)


def _fs(tmp_path: Path) -> Storage:
    return FileStorage(str(tmp_path / "store"))


def _s3(_: Path) -> Storage:
    return s3_storage("s3", new_bucket(), emulator())


@pytest.fixture(params=["fs", "s3"])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> History:
    """A fresh store of each driver, for a history."""
    return History(_fs(tmp_path) if request.param == "fs" else _s3(tmp_path))


def every_page(history: History, compacted: bool) -> list[list[dict[str, Any]]]:
    queries = history.queries(compacted)
    return [list(pages(queries, args)) for args in FILTERS]


def compacted_days(storage: Storage, root: str | None = None) -> list[int]:
    base = (root or history_root()) + DAYS
    return [day for key in storage.list(base) if (day := parse_day(key[len(base) :])) is not None]


def history_root() -> str:
    return f"p/compact/v1/org={ORG}/project={PROJECT}/service={SERVICE}/"


def test_pages_and_cursors_are_the_same_with_and_without_compacts(history: History) -> None:
    history.spread(first=0, days=6, per_day=9)
    # Days 0 to 3 closed (day 3 ended, grace passed); 4 and 5 open.
    history.clock.set(DAY0 + timedelta(days=4, milliseconds=GRACE_MS))
    plain = every_page(history, compacted=False)
    assert every_page(history, compacted=True) == plain
    # Pages compacted the closed days on their way, and only those.
    assert sorted(compacted_days(history.storage)) == [
        history.compactor.clock() // 86_400_000 * 86_400_000 - n * 86_400_000
        for n in range(4, 0, -1)
    ]
    assert sum(len(page["changes"]) for page in plain[0]) > 20
    # Late runs for compacted days, one for a day no run had (between two compacted days once
    # day 2 is left empty... here day 1's neighbour), received after the compacts were made.
    now = DAY0 + timedelta(days=4, hours=2)
    history.clock.set(now)
    for day, hour in ((1, 5), (1, 23), (3, 0), (0, 1)):
        history.add(DAY0 + timedelta(days=day, hours=hour, minutes=17), now)
    history.add(DAY0 - timedelta(days=3), now)  # before every compacted day
    plain = every_page(history, compacted=False)
    assert every_page(history, compacted=True) == plain
    assert list(history.storage.list(history_root() + LATE))
    # Every day closed, compacted by a rebuild: the same answers again.
    history.clock.set(DAY0 + timedelta(days=9))
    assert history.compactor.compact_service(REF) >= 2
    assert history.compactor.compact_service(REF) == 0
    assert every_page(history, compacted=True) == plain


def test_a_cursor_stays_valid_when_the_day_is_compacted_between_two_pages(
    history: History,
) -> None:
    history.spread(first=0, days=3, per_day=8)
    history.clock.set(DAY0 + timedelta(days=1, hours=12))  # no day closed: no compact
    expected = list(pages(history.queries(compacted=False), {}, limit=5))
    assert len(expected) > 3
    # Every day closes and is compacted after the pages were given: each page's cursor still
    # gives the next page.
    history.clock.set(DAY0 + timedelta(days=5))
    assert history.compactor.compact_service(REF) == 3
    compacted = history.queries(compacted=True)
    for page, following in pairwise(expected):
        query = {"limit": ["5"], "cursor": [page["next_cursor"]]}
        assert compacted.changes_of(ORG, PROJECT, SERVICE, query) == following


def _make_every_day(directory: str, now_ms: int, org_wide: bool) -> dict[int, int]:
    """In a process of its own: compact every day of the service (or of its organization);
    each day's cut it uses."""
    history = History(FileStorage(directory))
    history.clock.now_ms = now_ms
    compactor = history.compactor
    scope = compactor.organization(ORG) if org_wide else compactor.service(REF)
    cuts = {}
    for day in range(6):
        made = compactor.make(scope, to_day(day))
        assert made is not None
        cuts[to_day(day)] = made.cut_ms
    return cuts


@pytest.mark.parametrize("org_wide", [False, True], ids=["service", "organization"])
def test_two_processes_compacting_the_same_days_store_one_compact_each(
    tmp_path: Path, org_wide: bool
) -> None:
    directory = str(tmp_path / "store")
    history = History(FileStorage(directory))
    services = ((PROJECT, SERVICE), (PROJECT, "web"), ("billing", "api"))
    history.spread(first=0, days=6, per_day=12, services=services if org_wide else services[:1])
    history.clock.set(DAY0 + timedelta(days=8))
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        ones = [
            pool.submit(_make_every_day, directory, history.clock() + n, org_wide) for n in (0, 1)
        ]
        cuts = [one.result() for one in ones]
    root = f"p/compact/v1/org={ORG}/" if org_wide else history_root()
    days = compacted_days(history.storage, root)
    assert len(days) == 6
    for day in days:
        stored = decode(history.storage.read(root + DAYS + _name(day)))
        # Each process answered with the one compact stored, whichever of them made it.
        assert cuts[0][day] == cuts[1][day] == stored.cut_ms
        assert len(stored.names) == 12


def _name(day_ms: int) -> str:
    from stricture_server.runstore.entries import inverted

    return inverted(day_ms)


def test_a_corrupt_compact_is_skipped_for_the_index_objects(tmp_path: Path) -> None:
    history = History(_fs(tmp_path))
    history.spread(first=0, days=3, per_day=6)
    history.clock.set(DAY0 + timedelta(days=1, hours=2))
    history.storage.create(history_root() + DAYS + _name(to_day(0)), b'{"format": 1}')
    plain = every_page(history, compacted=False)
    assert every_page(history, compacted=True) == plain


def to_day(day: int) -> int:
    from stricture_server.runstore.entries import to_ms

    return to_ms(DAY0 + timedelta(days=day))


def test_a_compact_marker_never_says_no_to_a_change_it_holds() -> None:
    history = History(FileStorage("/nonexistent"))  # only its random changes are used
    rng = history.rng
    for _ in range(200):
        changes = [
            {"severity": rng.choice(("high", "low")), "change_type": rng.choice(TYPES)}
            for _ in range(rng.randrange(1, 6))
        ]
        impacts = [rng.choice(("downstream", "unknown", None)) for _ in changes]
        run = CompactRun("n", SUMMARY, changes, impacts)
        stats = stats_of(Compact.of(0, 0, None, [run]))
        assert parse_marker(stats.name()) == stats
        for change, impact in zip(changes, impacts, strict=True):
            severity, kind = frozenset([change["severity"]]), frozenset([change["change_type"]])
            assert stats.may_match(severity, kind, None)
            assert stats.may_match(None, kind, None)
            if impact is not None:
                assert stats.may_match(severity, kind, frozenset([impact]))
                assert stats.may_match(None, None, frozenset([impact, "self_only"]))
        assert not stats.may_match(frozenset(["medium"]), None, None)
        assert not stats.may_match(None, frozenset(["nope"]), None)


def page_costs(
    history: History, compacted: bool, args: dict[str, str]
) -> list[tuple[list[str], int]]:
    """Each page of the feed with ``args`` (pages of 100): its requests, as operations, and
    the number of days its changes are from."""
    assert isinstance(history.storage, S3Storage)
    operations = sent(history.storage)
    costs: list[tuple[list[str], int]] = []
    feed = pages(history.queries(compacted), args, limit=100)
    while True:
        operations.clear()
        page = next(feed, None)
        if page is None:
            return costs
        days = {change["time"][:10] for change in page["changes"]}
        costs.append(([op for op in operations if op != "send"], len(days)))


DENSE: tuple[dict[str, str], ...] = (
    {},
    {"severity": "low,info"},
    {"from": "2026-03-02", "to": "2026-03-04"},
)
"""Filters that most days have a page's worth of: a page draws on one or two days."""


def test_a_page_of_the_compacted_feed_costs_a_few_requests_on_s3(tmp_path: Path) -> None:
    history = History(_s3(tmp_path))
    history.spread(first=0, days=8, per_day=60, late_every=10**6)
    # Day 7 is open: each page that reaches it lists it and reads its runs, as without compacts.
    history.clock.set(DAY0 + timedelta(days=7, hours=2))
    history.compactor.compact_service(REF)
    # Two runs of day 2 arrive after its compact: a page that passes day 2 reads it, to know
    # whether it holds them.
    for hour in (3, 9):
        history.add(DAY0 + timedelta(days=2, hours=hour), DAY0 + timedelta(days=7, hours=2))
    for args in FILTERS:
        rolled = "change_type" in args or "impact" in args
        if rolled:
            # The first pages make the filter's roll-ups (see test_rollup.py); these read them.
            list(pages(history.queries(compacted=True), args, limit=100))
        costs = page_costs(history, True, args)
        for cost, days in costs:
            # Reads of runs of the open day (its index objects and blast radiuses), and of the
            # late runs: their late entries and blast radiuses.
            open_day = [op for op in cost if "/runs/" in op or "blast-radius" in op]
            open_day += [op for op in cost if "/late/" in op]
            assert all(
                "2026-03-08" in op or "2026-03-03" in op or "/runs/" in op or "/late/" in op
                for op in open_day
            ), open_day
            compacts = [op for op in cost if "/day/" in op and op.startswith("GetObject")]
            rollups = [op for op in cost if "/rollup/" in op]
            assert all(op.startswith("GetObject") for op in rollups), rollups
            others = [op for op in cost if op not in open_day + compacts + rollups]
            # The timeline, the compacted days and the late entries (and the filter's roll-ups),
            # each listed once.
            assert len(others) <= 3 + rolled, (args, others)
            # A compact is read only for a day the page draws on, the one that ends it, and
            # the day with late arrivals.
            assert len(compacts) <= days + 2, (args, cost)
        # Without compacts the same pages read every run with a match on the way.
        plain = page_costs(history, False, args)
        assert sum(len(c) for c, _ in plain) > sum(len(c) for c, _ in costs), args
    history.clock.set(DAY0 + timedelta(days=9))
    history.compactor.compact_service(REF)
    for args in (*DENSE, {"change_type": "nope"}):
        for cost, _ in page_costs(history, True, args):
            # Beside one read per late run that is not in its day's compact.
            fixed = [op for op in cost if "/late/" not in op and "2026-03-03" not in op]
            assert len(fixed) <= 5, (args, cost)
    # Without compacts: every run with changes is read (a fifth have none, by their names).
    [(requests, _)] = page_costs(history, False, {"change_type": "nope"})
    assert len(requests) > 300
