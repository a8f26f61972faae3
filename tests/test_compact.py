"""Compacts give the change feed the answers it gives without them, for fewer requests."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from stricture_server.compact.artifact import decode
from stricture_server.compact.keys import DAYS, LATE, parse_day
from stricture_server.runstore.index import ServiceRef
from stricture_server.storage import Storage
from stricture_server.storage.fs import FileStorage

from .compaction import DAY0, FILTERS, GRACE_MS, ORG, PROJECT, SERVICE, History, pages
from .objectstore import emulator, new_bucket, s3_storage

REF = ServiceRef(ORG, PROJECT, SERVICE)


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


def compacted_days(storage: Storage) -> list[int]:
    base = history_root() + DAYS
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


def _make_every_day(directory: str, now_ms: int) -> dict[int, int]:
    """In a process of its own: compact every day of the service; each day's cut it uses."""
    history = History(FileStorage(directory))
    history.clock.now_ms = now_ms
    cuts = {}
    for day in range(6):
        made = history.compactor.make(REF, to_day(day))
        assert made is not None
        cuts[to_day(day)] = made.cut_ms
    return cuts


def test_two_processes_compacting_the_same_days_store_one_compact_each(tmp_path: Path) -> None:
    directory = str(tmp_path / "store")
    history = History(FileStorage(directory))
    history.spread(first=0, days=6, per_day=12)
    history.clock.set(DAY0 + timedelta(days=8))
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        ones = [pool.submit(_make_every_day, directory, history.clock() + n) for n in (0, 1)]
        cuts = [one.result() for one in ones]
    days = compacted_days(history.storage)
    assert len(days) == 6
    for day in days:
        stored = decode(history.storage.read(history_root() + DAYS + _name(day)))
        # Each process answered with the one compact stored, whichever of them made it.
        assert cuts[0][day] == cuts[1][day] == stored.cut_ms


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
