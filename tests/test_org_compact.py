"""Organization compacts give the org-wide feed its answers without them, in a few requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from stricture_server.compact.keys import DAYS, LATE, ORG_RUNS, org_feeds_complete_key, parse_day
from stricture_server.compact.org_feed import backfill
from stricture_server.reads.listings import Listings
from stricture_server.reads.org_changes import OrgChanges
from stricture_server.runstore.index import ServiceRef
from stricture_server.storage import Storage
from stricture_server.storage.fs import FileStorage
from stricture_server.storage.s3 import S3Storage

from .compaction import DAY0, FILTERS, GRACE_MS, ORG, PREFIX, History
from .objectstore import emulator, new_bucket, s3_storage
from .test_s3 import sent

SERVICES = (("checkout", "api"), ("checkout", "web"), ("billing", "api"), ("billing", "jobs"))
ORG_ROOT = f"{PREFIX}/compact/v1/org={ORG}/"
Visible = Callable[[ServiceRef], bool]


@pytest.fixture(params=["fs", "s3"])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> History:
    """A fresh store of each driver, for a history."""
    if request.param == "fs":
        return History(FileStorage(str(tmp_path / "store")))
    return History(s3_storage("s3", new_bucket(), emulator()))


def org_feed(history: History, compacted: bool) -> OrgChanges:
    return OrgChanges(history.queries(compacted), Listings(history.storage, PREFIX))


def org_pages(
    feed: OrgChanges, args: dict[str, str], limit: int = 7, visible: Visible | None = None
) -> Iterator[dict[str, Any]]:
    """Every page of the org-wide feed, following ``next_cursor``."""
    query = {key: [value] for key, value in args.items()} | {"limit": [str(limit)]}
    while True:
        if visible is None:
            page = feed.changes_of(ORG, query)
        else:
            page = feed.changes_of(ORG, query, visible)
        yield page
        if not page["next_cursor"]:
            return
        query["cursor"] = [page["next_cursor"]]


def every_page(
    history: History, compacted: bool, visible: Visible | None = None
) -> list[list[dict[str, Any]]]:
    feed = org_feed(history, compacted)
    return [list(org_pages(feed, args, visible=visible)) for args in FILTERS]


def org_days(storage: Storage) -> list[int]:
    base = ORG_ROOT + DAYS
    return [day for key in storage.list(base) if (day := parse_day(key[len(base) :])) is not None]


def test_org_pages_and_cursors_are_the_same_with_and_without_org_compacts(
    history: History,
) -> None:
    history.spread(first=0, days=6, per_day=10, services=SERVICES)
    # Days 0 to 3 closed; 4 and 5 open.
    history.clock.set(DAY0 + timedelta(days=4, milliseconds=GRACE_MS))
    plain = every_page(history, compacted=False)
    assert every_page(history, compacted=True) == plain
    assert sum(len(page["changes"]) for page in plain[0]) > 40
    assert {c["location"].split("/")[4] for page in plain[0] for c in page["changes"]} == {
        "checkout",
        "billing",
    }
    # The pages compacted closed days of the organization on their way, and only closed ones.
    assert org_days(history.storage)
    assert max(org_days(history.storage)) <= history.compactor.clock() - 86_400_000 - GRACE_MS
    # Late runs of compacted days, of every service, received after their compacts were made;
    # and one run id given again by another service at the very same time and receipt.
    now = DAY0 + timedelta(days=4, hours=2)
    history.clock.set(now)
    for n, (day, hour) in enumerate(((1, 5), (1, 23), (3, 0), (0, 1))):
        history.add(DAY0 + timedelta(days=day, hours=hour, minutes=17), now, service=SERVICES[n])
    history.count -= 1
    history.add(DAY0 + timedelta(days=0, hours=1, minutes=17), now, service=SERVICES[1])
    history.add(DAY0 - timedelta(days=3), now, service=SERVICES[2])  # before every compact
    plain = every_page(history, compacted=False)
    assert every_page(history, compacted=True) == plain
    assert list(history.storage.list(ORG_ROOT + LATE))
    # Every day closed and compacted by a rebuild: the same answers again.
    history.clock.set(DAY0 + timedelta(days=9))
    assert history.compactor.compact_organization(ORG) >= 2
    assert history.compactor.compact_organization(ORG) == 0
    assert every_page(history, compacted=True) == plain


def test_an_access_filtered_org_feed_is_the_same_with_org_compacts(history: History) -> None:
    history.spread(first=0, days=4, per_day=8, services=SERVICES)
    history.clock.set(DAY0 + timedelta(days=3, milliseconds=GRACE_MS))

    def visible(ref: ServiceRef) -> bool:
        return ref.project == "billing" or ref.service == "web"

    plain = every_page(history, compacted=False, visible=visible)
    assert every_page(history, compacted=True, visible=visible) == plain
    shown = {c["location"] for page in plain[0] for c in page["changes"]}
    assert shown
    assert not any("/checkout/api/" in location for location in shown)


def test_an_org_cursor_stays_valid_when_its_day_is_compacted_between_two_pages(
    history: History,
) -> None:
    history.spread(first=0, days=3, per_day=8, services=SERVICES)
    history.clock.set(DAY0 + timedelta(days=1, hours=12))  # no day closed: no compact
    expected = list(org_pages(org_feed(history, compacted=False), {}, limit=5))
    assert len(expected) > 3
    assert not org_days(history.storage)
    history.clock.set(DAY0 + timedelta(days=5))
    assert history.compactor.compact_organization(ORG) == 3
    compacted = org_feed(history, compacted=True)
    for page, following in pairwise(expected):
        query = {"limit": ["5"], "cursor": [page["next_cursor"]]}
        assert compacted.changes_of(ORG, query) == following


def test_an_org_page_costs_a_few_requests_whatever_the_number_of_services() -> None:
    storage = s3_storage("s3", new_bucket(), emulator())
    assert isinstance(storage, S3Storage)
    history = History(storage)
    services = [(f"p{n % 4}", f"s{n}") for n in range(40)]
    history.spread(first=0, days=8, per_day=40, services=services)
    # Every day closed, every late run received before the compacts' cut.
    history.clock.set(DAY0 + timedelta(days=10))
    history.compactor.compact_organization(ORG)
    operations = sent(storage)
    feed = org_feed(history, compacted=True)
    for args in FILTERS:
        for page in org_pages(feed, args, limit=20):
            cost = [op for op in operations if op != "send"]
            operations.clear()
            # Every day compacted: the listing of the organization's compacted days, of its
            # late entries, of its feed where the page starts, and the compacts it draws on.
            # A filter of one type or impact lists its roll-ups, and makes the one it needs
            # from the compacts (see test_rollup.py).
            drawn = [op for op in cost if op.startswith("GetObject") and "/day/" in op]
            token = bool(args.get("change_type") or args.get("impact"))
            rolled = [op for op in cost if "/rollup/" in op]
            assert len(cost) <= 3 + token + len(drawn) + len(rolled), (args, cost)
            assert len(drawn) <= 2 or token, (args, cost)
            assert len(page["changes"]) == 20 or not page["next_cursor"]
    # Read again: those filters' pages read the roll-ups made, and no compact.
    for args in FILTERS:
        if args.get("change_type") or args.get("impact"):
            operations.clear()
            for _page in org_pages(feed, args, limit=20):
                cost = [op for op in operations if op != "send"]
                operations.clear()
                assert len(cost) <= 5, (args, cost)
                assert not [op for op in cost if "/day/" in op], (args, cost)
    # Without them: each service's listings, at least one per service.
    plain = org_feed(history, compacted=False)
    operations.clear()
    plain.changes_of(ORG, {"limit": ["20"]})
    assert len([op for op in operations if op.startswith("ListObjectsV2")]) >= 40


def test_compact_writes_the_org_feed_entries_a_store_from_before_them_lacks(
    tmp_path: Path,
) -> None:
    history = History(FileStorage(str(tmp_path / "store")))
    history.spread(first=0, days=3, per_day=6, services=SERVICES)
    history.clock.set(DAY0 + timedelta(days=1, hours=12))
    expected = every_page(history, compacted=False)
    # A store from before organization feeds: its runs have none.
    feed = [*history.storage.list(ORG_ROOT + ORG_RUNS), *history.storage.list(ORG_ROOT + LATE)]
    assert feed
    lost = History(FileStorage(str(tmp_path / "lost")))
    for key in history.storage.list(f"{PREFIX}/"):
        if key not in feed and key != org_feeds_complete_key(PREFIX):
            lost.storage.create(key, history.storage.read(key))
    lost.clock.set(DAY0 + timedelta(days=1, hours=12))
    # Not marked: the org-wide feed is read service by service, and no organization compact
    # is made from the entries it lacks.
    assert every_page(lost, compacted=True) == expected
    assert not org_days(lost.storage)
    assert lost.compactor.compact_organization(ORG) == 0
    scope = lost.compactor.organization(ORG)
    refs = [ServiceRef(ORG, project, service) for project, service in SERVICES]
    assert backfill(lost.storage, scope, refs) == len(feed)
    assert backfill(lost.storage, scope, refs) == 0
    lost.compactor.mark_org_feeds_complete()
    assert [*lost.storage.list(ORG_ROOT + ORG_RUNS), *lost.storage.list(ORG_ROOT + LATE)] == feed
    assert len(feed) > 18
    assert every_page(lost, compacted=True) == expected


def test_a_run_of_the_longest_names_is_in_the_org_feed_on_a_filesystem(tmp_path: Path) -> None:
    history = History(FileStorage(str(tmp_path / "store")))
    longest = ("p" * 128, "s" * 128)
    history.spread(first=0, days=2, per_day=4, services=(SERVICES[0], longest))
    history.clock.set(DAY0 + timedelta(days=1, hours=12))
    plain = every_page(history, compacted=False)
    assert every_page(history, compacted=True) == plain
    shown = {c["location"].split("/")[4] for page in plain[0] for c in page["changes"]}
    assert shown == {"checkout", "p" * 128}
