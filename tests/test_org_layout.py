"""Flat organization feed entries, read beside the nested ones earlier versions stored."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stricture_server.compact.keys import DAYS, LATE, ORG_RUNS, org_feed_name, org_late_name
from stricture_server.compact.org_feed import backfill
from stricture_server.compact.org_layout import feed_name, stored_name
from stricture_server.compact.rollup_artifact import ROLLUPS
from stricture_server.runstore.entries import NAME_BUDGET, Counts, Summary, timeline_name
from stricture_server.runstore.index import ServiceRef
from stricture_server.storage import Storage
from stricture_server.storage.fs import FileStorage

from .compaction import DAY0, GRACE_MS, ORG, History
from .legacy import copy_in_layouts, nested_key
from .test_org_compact import ORG_ROOT, SERVICES, every_page
from .test_storage_contract import STORES

LAYOUTS: dict[str, Callable[[int], str]] = {
    "flat": lambda n: "flat",
    "nested": lambda n: "nested",
    "mixed": lambda n: ("flat", "nested", "both")[n % 3],
}
"""A store of this version, one of an earlier version, and one of both with runs in both."""

LONGEST = "z" * 128
COUNTS = Counts(12, 3, 4, 5, 0)
NAMES = st.sampled_from(["a", "a-b", "a0", "ab", "b", "z9-x", "z" * 90])


def summary(
    run_id: str = "0190c6d2-8f3a-7b4c-9d2e-5f6a7b8c9d0e",
    time_ms: int = 63_900_000_000_000,
    commit: str | None = "a" * 40,
    counts: Counts | None = COUNTS,
) -> Summary:
    """A run's summary, by default with a UUID and a full commit."""
    return Summary(run_id, time_ms, time_ms + 3_000, True, commit, counts)


@pytest.fixture(params=["fs", "s3", "mirror"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Storage]]:
    """Fresh stores of one driver, as many as the test asks for."""
    opened: list[Iterator[Storage]] = []

    def fresh() -> Storage:
        opened.append(STORES[request.param](tmp_path / str(len(opened))))
        return next(opened[-1])

    yield fresh
    for store in opened:
        next(store, None)  # the driver's own checks at the end (the mirror's replication)


def add_everywhere(histories: list[History], time: datetime, received: datetime) -> None:
    """The same run (same diff) in every history, and a twin in another service: same run
    id, time, receipt and diff, so the same timeline name, the entries of one group."""
    number = histories[0].count
    for history in histories:
        for service in SERVICES[:2]:
            history.count, history.rng = number, random.Random(number)
            history.add(time, received, service=service)


def test_a_store_of_both_layouts_gives_the_pages_of_one(stores: Callable[[], Storage]) -> None:
    written = History(stores())
    written.spread(first=0, days=3, per_day=7, services=SERVICES)
    add_everywhere([written], DAY0 + timedelta(hours=9), DAY0 + timedelta(hours=9, seconds=2))
    add_everywhere([written], DAY0 + timedelta(hours=5), DAY0 + timedelta(days=1, hours=4))
    assert not [k for k in written.storage.list(ORG_ROOT + ORG_RUNS) if k.count("/") > 5]
    histories = {"flat": written}
    for name in ("nested", "mixed"):
        histories[name] = History(stores())
        copy_in_layouts(written.storage, histories[name].storage, LAYOUTS[name])
    nested = list(histories["nested"].storage.list(ORG_ROOT + ORG_RUNS))
    assert all(key.count("/") == 7 for key in nested), nested[:2]
    every = list(histories.values())
    for history in every:
        history.clock.set(DAY0 + timedelta(days=2, milliseconds=GRACE_MS))  # days 0, 1 closed
    expected = every_page(written, compacted=False)
    assert sum(len(page["changes"]) for page in expected[0]) > 30
    for name, history in histories.items():
        assert every_page(history, compacted=True) == expected, name
        # The pages made organization compacts and roll-ups from the entries of both layouts.
        assert list(history.storage.list(ORG_ROOT + DAYS)), name
        assert list(history.storage.list(ORG_ROOT + ROLLUPS)), name
    # Late runs of compacted days, stored by this version: flat, beside nested ones; in the
    # mixed store, stored by an earlier version too (then replayed to this one).
    now = DAY0 + timedelta(days=2, hours=3)
    mixed = histories["mixed"].storage
    before = set(mixed.list(ORG_ROOT))
    add_everywhere(every, DAY0 + timedelta(hours=9, minutes=1), now)
    add_everywhere(every, DAY0 + timedelta(days=1, hours=23), now)
    replayed = {k: n for k in mixed.list(ORG_ROOT) if k not in before and (n := nested_key(k))}
    assert len([key for key in replayed if "/late/" in key]) == 4
    for key, earlier in replayed.items():
        mixed.create(earlier, mixed.read(key))
    expected = every_page(written, compacted=False)
    for history in every:
        history.clock.set(now)
    for name, history in histories.items():
        assert every_page(history, compacted=True) == expected, name
    # Every day compacted by a rebuild: the same compacts, byte for byte, the same answers.
    compacts = []
    for name, history in histories.items():
        history.clock.set(DAY0 + timedelta(days=5))
        assert history.compactor.compact_organization(ORG) >= 1, name
        assert every_page(history, compacted=True) == expected, name
        days = ORG_ROOT + DAYS
        compacts.append({k: history.storage.read(k) for k in history.storage.list(days)})
        # An entry in either layout counts: nothing is missing.
        scope = history.compactor.organization(ORG)
        refs = [ServiceRef(ORG, project, service) for project, service in SERVICES]
        assert backfill(history.storage, scope, refs) == 0, name
    assert compacts[0] == compacts[1] == compacts[2]


def test_an_ingest_on_a_filesystem_makes_no_directory_for_its_org_feed_entry(
    tmp_path: Path,
) -> None:
    history = History(FileStorage(str(tmp_path / "store")))
    history.spread(first=0, days=1, per_day=3, services=SERVICES)
    history.add(DAY0, DAY0 + timedelta(days=1, hours=2), service=SERVICES[1])
    for part in (ORG_RUNS, LATE):
        found = list(os.scandir(tmp_path / "store" / (ORG_ROOT + part)))
        assert found
        assert not [entry.name for entry in found if entry.is_dir()]
    # The longest names: nested, each part a file name.
    history.add(DAY0, DAY0 + timedelta(days=1, hours=3), service=(LONGEST, LONGEST))
    runs = list(history.storage.list(ORG_ROOT + ORG_RUNS))
    assert len([key for key in runs if key.endswith(f"/{LONGEST}/{LONGEST}")]) == 1
    late = list(history.storage.list(ORG_ROOT + LATE))
    assert len([key for key in late if key.endswith(f"/{LONGEST}/{LONGEST}")]) == 1


@pytest.mark.parametrize(
    ("run", "project", "service", "layouts"),
    [
        (summary(), "checkout", "api", ("flat", "flat")),
        (summary(), LONGEST, LONGEST, ("nested", "nested")),
        (summary(run_id="r" * 128, counts=None), "p", "s", ("flat", "flat")),
        (summary(run_id="r" * 128), "p" * 30, "s" * 30, ("nested", "flat")),
    ],
)
def test_a_feed_name_is_stored_flat_unless_longer_than_a_file_name(
    run: Summary, project: str, service: str, layouts: tuple[str, str]
) -> None:
    names = (
        org_feed_name(timeline_name(run), project, service),
        org_late_name(run, project, service),
    )
    for name, layout in zip(names, layouts, strict=True):
        stored = stored_name(name)
        assert feed_name(stored) == name
        assert all(len(part) <= NAME_BUDGET for part in stored.split("/"))
        assert ("/" in stored) == (layout == "nested"), (name, stored)


def test_a_flat_name_is_used_up_to_the_file_name_limit_exactly() -> None:
    run = timeline_name(summary(counts=None))
    fits = NAME_BUDGET - len(run) - 2
    assert "/" not in stored_name(org_feed_name(run, "p" * (fits - 1), "s"))
    assert stored_name(org_feed_name(run, "p" * fits, "s")) == f"{run}/{'p' * fits}/s"


def test_a_name_not_of_either_layout_is_left_for_the_scope_to_refuse() -> None:
    assert feed_name("x)project") == "x)project"
    assert feed_name("x)a.b/c") == "x)a.b/c"
    assert feed_name("x/a/b") == "x/a/b"


@given(
    st.lists(
        st.tuples(
            st.integers(0, 2),
            st.sampled_from(["r", "r-1", "r1", "s"]),
            st.sampled_from([None, "", "abc1234"]),
            st.sampled_from([1, 10, 100]),
            NAMES,
            NAMES,
        ),
        min_size=2,
        max_size=12,
    )
)
def test_flat_names_sort_as_the_nested_ones(
    runs: list[tuple[int, str, str | None, int, str, str]],
) -> None:
    names = []
    for time, run_id, commit, info, project, service in runs:
        counts = None if commit is None else Counts(info + 1, 1, 0, 0, info)
        timeline = timeline_name(summary(run_id, 63_900_000_000_000 + time, commit, counts))
        names.append(org_feed_name(timeline, project, service))
    assert not [name for name in names if "/" in stored_name(name)]
    by_stored = sorted(set(names), key=stored_name)
    assert by_stored == sorted(set(names))
