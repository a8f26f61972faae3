"""Roll-ups give a sparse filter's pages the answers the day compacts give, in a few requests."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from stricture_server.compact.rollup_artifact import ROLLUPS, Token, decode, span
from stricture_server.runstore.index import ServiceRef
from stricture_server.storage import Storage
from stricture_server.storage.fs import FileStorage

from .compaction import DAY0, ORG, PROJECT, SERVICE, History, pages
from .objectstore import emulator, new_bucket, s3_storage
from .test_compact import history_root, page_costs
from .test_org_compact import ORG_ROOT, SERVICES, org_feed, org_pages
from .test_s3 import sent

REF = ServiceRef(ORG, PROJECT, SERVICE)
RARE = {"change_type": "field_renamed"}
SPARSE: tuple[dict[str, str], ...] = (
    RARE,
    {**RARE, "severity": "high"},
    {**RARE, "impact": "downstream"},
    {**RARE, "to": "2026-03-09"},
    {**RARE, "from": "2026-03-04", "to": "2026-03-12"},
    {"impact": "self_only"},
    {"change_type": "field_added", "severity": "low"},
    {"change_type": "field_renamed,nope"},
)
"""Filters of one token (a sparse one, alone and with others), and one of two types (no
roll-up), for the same answers."""


def _history(storage: Storage) -> History:
    return History(storage, rare_every=3)


@pytest.fixture(params=["fs", "s3"])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> History:
    """A fresh store of each driver, for a history with a sparse change type."""
    if request.param == "fs":
        return _history(FileStorage(str(tmp_path / "store")))
    return _history(s3_storage("s3", new_bucket(), emulator()))


def feeds(history: History, compacted: bool, limit: int = 4) -> list[list[dict[str, Any]]]:
    queries = history.queries(compacted)
    return [list(pages(queries, args, limit)) for args in SPARSE]


def rollup_keys(storage: Storage, root: str) -> list[str]:
    return [key for key in storage.list(root + ROLLUPS) if span(key.rsplit("/", 1)[1])]


def test_sparse_pages_and_cursors_are_the_same_with_and_without_rollups(
    history: History,
) -> None:
    history.spread(first=0, days=14, per_day=6)
    # Days 0 to 11 closed; 12 and 13 open.
    history.clock.set(DAY0 + timedelta(days=12, hours=2))
    history.compactor.compact_service(REF)
    plain = feeds(history, compacted=False)
    assert sum(len(page["changes"]) for page in plain[0]) > 15
    # The pages' cursors, given before any roll-up, each give the next page while the pages
    # make them (each resumes in a day no roll-up held yet).
    compacted = history.queries(compacted=True)
    for args, expected in zip(SPARSE, plain, strict=True):
        for page, following in pairwise(expected):
            query = {k: [v] for k, v in args.items()} | {"limit": ["4"]}
            query["cursor"] = [page["next_cursor"]]
            assert compacted.changes_of(ORG, PROJECT, SERVICE, query) == following, args
    assert rollup_keys(history.storage, history_root())
    assert feeds(history, compacted=True) == plain
    # Late runs received after the roll-ups were made, in rolled-up days and before them.
    now = DAY0 + timedelta(days=12, hours=3)
    history.clock.set(now)
    for day, hour in ((1, 5), (3, 23), (7, 0), (9, 1), (10, 4), (11, 3)):
        history.add(DAY0 + timedelta(days=day, hours=hour, minutes=17), now)
    plain = feeds(history, compacted=False)
    assert feeds(history, compacted=True) == plain
    # More days close: new roll-ups start at them and join the stored ones.
    history.spread(first=14, days=3, per_day=5)
    history.clock.set(DAY0 + timedelta(days=20))
    plain = feeds(history, compacted=False, limit=9)
    assert feeds(history, compacted=True, limit=9) == plain
    assert feeds(history, compacted=True, limit=9) == plain


def test_a_sparse_page_reads_one_rollup_instead_of_a_compact_a_day(tmp_path: Path) -> None:
    storage = s3_storage("s3", new_bucket(), emulator())
    history = _history(storage)
    history.rare_every = 8  # a few changes of the type a day
    history.spread(first=0, days=20, per_day=24, late_every=10**6)
    history.clock.set(DAY0 + timedelta(days=20, hours=2))  # every day closed
    history.compactor.compact_service(REF)
    # Two types: no roll-up, one compact read a day drawn on (as before roll-ups).
    before = page_costs(history, True, {"change_type": "field_renamed,nope"})
    first = page_costs(history, True, RARE)  # makes the roll-up from the compacts
    after = page_costs(history, True, RARE)
    assert len(before) == len(first) == len(after) == 1
    [(before_ops, days)], [(first_ops, _)], [(after_ops, _)] = before, first, after
    assert days >= 15
    assert len([op for op in before_ops if op.startswith("GetObject")]) >= days
    assert [op for op in first_ops if op.startswith("PutObject")] == [
        op for op in first_ops if "/rollup/" in op
    ]
    # The timeline, the compacted days, the late entries and the roll-ups listed; the roll-up.
    assert len(after_ops) <= 5, after_ops
    [read] = [op for op in after_ops if op.startswith("GetObject")]
    assert "/rollup/" in read, after_ops
    # Pages from a cursor inside the roll-up list no timeline.
    operations = sent(storage)
    feed = pages(history.queries(compacted=True), RARE, limit=20)
    while True:
        operations.clear()
        if next(feed, None) is None:
            break
        assert len([op for op in operations if op != "send"]) <= 5, operations


def _first_pages(directory: str, now_ms: int) -> list[dict[str, Any]]:
    """In a process of its own: the sparse filter's pages, making the roll-up on the way."""
    history = _history(FileStorage(directory))
    history.clock.now_ms = now_ms
    return list(pages(history.queries(compacted=True), RARE, limit=50))


def compacted(directory: str, days: int) -> History:
    """A history of ``days`` days of 10 runs, every day closed and compacted."""
    history = _history(FileStorage(directory))
    history.spread(first=0, days=days, per_day=10)
    history.clock.set(DAY0 + timedelta(days=days + 1))
    history.compactor.compact_service(REF)
    return history


def test_two_processes_making_the_same_rollup_store_one(tmp_path: Path) -> None:
    directory = str(tmp_path / "store")
    history = compacted(directory, days=8)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        ones = [pool.submit(_first_pages, directory, history.clock()) for _ in range(2)]
        answers = [one.result() for one in ones]
    plain = list(pages(history.queries(compacted=False), RARE, limit=50))
    assert answers == [plain, plain]
    [key] = rollup_keys(history.storage, history_root())
    rollup = decode(history.storage.read(key), Token("field_renamed", None))
    assert len(rollup.parts) == 8
    assert sum(part.kept for part in rollup.parts) == sum(len(p["changes"]) for p in plain)


class Racing(FileStorage):
    """A store where another process makes the same roll-up just before this one stores it."""

    def __init__(self, root: str, other: Callable[[], object]) -> None:
        super().__init__(root)
        self.other: Callable[[], object] | None = other

    def create(self, key: str, data: bytes) -> None:
        if "/rollup/" in key and self.other is not None:
            other, self.other = self.other, None
            other()
        super().create(key, data)


def test_a_rollup_stored_first_by_another_process_is_the_one_used(tmp_path: Path) -> None:
    directory = str(tmp_path / "store")
    history = compacted(directory, days=6)
    plain = list(pages(history.queries(compacted=False), RARE))
    racing = _history(Racing(directory, lambda: list(pages(history.queries(True), RARE))))
    racing.clock.now_ms = history.clock()
    assert list(pages(racing.queries(compacted=True), RARE)) == plain
    assert isinstance(racing.storage, Racing)
    assert racing.storage.other is None  # the other made it while this page was making it
    [_] = rollup_keys(history.storage, history_root())


def test_a_corrupt_rollup_is_skipped_for_the_compacts(tmp_path: Path) -> None:
    history = compacted(str(tmp_path / "store"), days=6)
    plain = list(pages(history.queries(compacted=False), RARE))
    assert list(pages(history.queries(compacted=True), RARE)) == plain
    [key] = rollup_keys(history.storage, history_root())
    (tmp_path / "store" / key).write_bytes(b'{"format": 1}')
    assert list(pages(history.queries(compacted=True), RARE)) == plain


def test_the_org_feed_reads_rollups_with_the_same_answers(history: History) -> None:
    history.spread(first=0, days=8, per_day=9, services=SERVICES)
    history.clock.set(DAY0 + timedelta(days=7, hours=3))

    def visible(ref: ServiceRef) -> bool:
        return ref.project == "billing"

    for see in (None, visible):
        for args in SPARSE[:4]:
            plain = list(org_pages(org_feed(history, False), args, limit=5, visible=see))
            twice = [
                list(org_pages(org_feed(history, True), args, limit=5, visible=see))
                for _ in range(2)
            ]
            assert twice == [plain, plain], args
    assert rollup_keys(history.storage, ORG_ROOT)
