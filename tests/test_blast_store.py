"""The lineage objects on every driver: feed, snapshots, concurrent ingests, failures.

Each test builds apps the way ``create_app`` does, from injected settings and one shared store,
so several apps stand for several processes or function instances.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from werkzeug.test import Client

from stricture_server.app import App
from stricture_server.auth import make_authenticator
from stricture_server.blast import keys
from stricture_server.blast.feed import Landing, OrgFeed, append
from stricture_server.blast.state import entry_bytes
from stricture_server.errors import StorageUnavailable
from stricture_server.ingest.validation import EnvelopeValidator
from stricture_server.lineage.edges import RunGraph
from stricture_server.lineage.graph import Location
from stricture_server.runstore.runs import RunStore
from stricture_server.settings import Settings
from stricture_server.storage import Storage

from . import factory
from .test_lineage_impact import change, diff
from .test_storage_contract import STORES

PREFIX = "stricture"
DRIVERS = ("fs", "s3", "mirror")


@pytest.fixture(params=DRIVERS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """A fresh store of each driver the issue names."""
    yield from STORES[request.param](tmp_path)


def app_on(storage: Storage, **settings: Any) -> Client:
    """A new app (a new process, as far as the store can tell) on ``storage``."""
    chosen = Settings(object_prefix=PREFIX, log_level="error", **settings)
    app = App(
        chosen,
        RunStore(storage, PREFIX),
        make_authenticator(chosen),
        EnvelopeValidator(strict=True, max_errors=chosen.max_errors),
    )
    return Client(app)


def send(client: Client, service: str, artifact: dict[str, Any], **extra: Any) -> None:
    """Ingest one run of ``service`` in the org ``acme``."""
    document = factory.envelope(
        organization="acme", project="platform", service=service, artifact=artifact, **extra
    )
    reply = client.post("/v1/artifacts", json=document)
    assert reply.status_code == 202, reply.get_data()[:300]


def answer(client: Client, path: str, status: int = 200) -> Any:
    """The JSON answer to ``GET path``."""
    reply = client.get(path)
    assert reply.status_code == status, reply.get_data()[:300]
    return reply.get_json()


def keys_under(storage: Storage, area: str) -> list[str]:
    """The keys of the org ``acme``'s lineage ``area`` (``feed/``, ``snapshots/``...)."""
    return list(storage.list(f"{PREFIX}/lineage/v1/org=acme/{area}"))


def test_a_new_process_starts_from_the_newest_snapshot(store: Storage) -> None:
    first = app_on(store, lineage_snapshot_every=2)
    for name, artifact in factory.lineage_org(factory.SHOP_ORG).items():
        send(first, name, artifact)
    before = answer(first, "/v1/graph/acme")
    assert len(keys_under(store, "snapshots/")) == 1
    fresh = answer(app_on(store), "/v1/graph/acme")
    assert fresh["graph"]["snapshot"] is not None
    assert fresh["graph"]["services"] == 5
    assert (fresh["systems"], fresh["edges"]) == (before["systems"], before["edges"])


def test_concurrent_ingests_from_many_processes_lose_no_service(store: Storage) -> None:
    spec = factory.chain_org(12)
    artifacts = factory.lineage_org(spec)
    apps = [app_on(store, lineage_snapshot_every=3) for _ in range(4)]
    names = sorted(artifacts)
    start = threading.Barrier(len(apps))

    def ingest_share(n: int) -> None:
        start.wait()
        for name in names[n :: len(apps)]:
            send(apps[n], name, artifacts[name])

    threads = [threading.Thread(target=ingest_share, args=(n,)) for n in range(len(apps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys_under(store, "feed/")) == 12
    for client in [*apps, app_on(store)]:
        graph = answer(client, "/v1/graph/acme")
        assert graph["graph"]["services"] == 12
        assert {s["system"] for s in graph["systems"]} >= {f"s{i}:api" for i in range(12)}
    # s0:api reaches the whole chain: 11 systems, 11 other services.
    chain = answer(app_on(store), "/v1/escalation/acme/s11:api?depth=64")["chain"]
    assert [s["system"] for s in chain if ":" in s["system"]][-1] == "s0:api"


def test_an_older_run_sent_later_does_not_replace_the_latest(store: Storage) -> None:
    client = app_on(store)
    newer = factory.service_artifact({"billing:api": ["orders:api"]})
    older = factory.service_artifact({"billing:api": ["legacy:api"]})
    send(client, "billing", newer, run_id="r2", generated_at="2026-03-02T00:00:00Z")
    send(client, "billing", older, run_id="r1", generated_at="2026-03-01T00:00:00Z")
    for reader in (client, app_on(store)):
        graph = answer(reader, "/v1/graph/acme")
        edges = {(e["from"], e["to"]) for e in graph["edges"]}
        assert ("billing:api", "orders:api") in edges
        assert ("billing:api", "legacy:api") not in edges


def test_a_process_follows_each_new_run_whether_or_not_its_shape_changed(store: Storage) -> None:
    client = app_on(store)
    first = factory.service_artifact({"billing:api": ["orders:api"]})
    moved = factory.service_artifact({"billing:api": ["legacy:api"]})
    runs = [("r1", first), ("r2", first), ("r3", moved), ("r4", moved)]
    for n, (run_id, artifact) in enumerate(runs):
        # Each with a diff: its blast radius is computed against the graph this process keeps.
        when = f"2026-03-0{n + 1}T00:00:00Z"
        send(client, "billing", artifact, run_id=run_id, generated_at=when, diff=diff(change()))
        for reader in (client, app_on(store)):
            graph = answer(reader, "/v1/graph/acme")
            owners = {s["system"]: s["owners"] for s in graph["systems"]}
            assert owners["billing:api"][0]["run_id"] == run_id
            edges = {(e["from"], e["to"]) for e in graph["edges"]}
            upstream = "orders:api" if artifact is first else "legacy:api"
            assert {e for e in edges if e[0] == "billing:api"} == {("billing:api", upstream)}


def test_a_blast_radius_past_the_ingest_reach_is_computed_on_its_first_read(
    store: Storage,
) -> None:
    # orders:api reaches four systems (billing, orders:worker, shipping, reports); three is
    # the most an ingest computes here, so the run is acknowledged without its blast radius.
    client = app_on(store, lineage_ingest_reach=3)
    artifacts = factory.lineage_org(factory.SHOP_ORG)
    for name in sorted(set(artifacts) - {"orders"}):
        send(client, name, artifacts[name], run_id="r1")
    send(client, "orders", artifacts["orders"], run_id="r1", diff=diff(change("Orders:api")))
    send(client, "billing", artifacts["billing"], run_id="r2", diff=diff(change("Billing:api")))
    stored = [k for k in store.list(f"{PREFIX}/") if k.endswith("/blast-radius.json")]
    assert [k.split("/service=")[1].split("/")[0] for k in stored] == ["billing"]
    found = answer(client, "/v1/blast-radius/acme/platform/orders/r1")
    assert found["computed"] == "on_read"
    assert found["changes"][0]["impact"] == "downstream"
    assert len(found["reached"]["orders:api"]) == 4
    within = answer(client, "/v1/blast-radius/acme/platform/billing/r2")
    assert (within["computed"], len(within["reached"]["billing:api"])) == ("at_ingest", 2)


@pytest.mark.parametrize(("fresh_ms", "impact"), [(0, "downstream"), (3_600_000, "self_only")])
def test_an_ingest_lists_the_feed_again_unless_it_did_within_the_fresh_period(
    store: Storage, fresh_ms: int, impact: str
) -> None:
    artifacts = factory.lineage_org(factory.SHOP_ORG)
    mine, other = app_on(store, lineage_ingest_fresh_ms=fresh_ms), app_on(store)
    send(mine, "inventory", artifacts["inventory"], run_id="r0")
    send(mine, "orders", artifacts["orders"], run_id="r1", diff=diff(change("Orders:api")))
    answer(mine, "/v1/graph/acme")  # this process lists the feed now
    send(
        other, "billing", artifacts["billing"], run_id="r1"
    )  # another process: billing reads orders
    send(mine, "orders", artifacts["orders"], run_id="r2", diff=diff(change("Orders:api")))
    found = answer(mine, "/v1/blast-radius/acme/platform/orders/r2")
    assert found["changes"][0]["impact"] == impact
    assert found["graph"]["services"] == (3 if impact == "downstream" else 2)
    # A read always lists: the graph it answers has billing either way.
    assert answer(mine, "/v1/graph/acme")["graph"]["services"] == 3


def test_an_identical_replay_appends_nothing_to_the_feed(store: Storage) -> None:
    client = app_on(store)
    artifact = factory.service_artifact({"billing:api": ["orders:api"]})
    for _ in range(3):
        send(client, "billing", artifact, run_id="r1", diff=diff(change("billing:api")))
    assert len(keys_under(store, "feed/")) == 1
    found = answer(client, "/v1/blast-radius/acme/platform/billing/r1")
    assert found["changes"][0]["impact"] == "self_only"


def test_a_failing_lineage_step_never_refuses_or_loses_the_run(store: Storage) -> None:
    # A registry version damaged in the store: every blast radius needs it, so the step fails.
    store.create(f"{PREFIX}/lineage/v1/org=acme/registry/0000000000000-x.json", b"not json")
    client = app_on(store)
    artifact = factory.service_artifact({"billing:api": ["orders:api"]})
    send(client, "billing", artifact, run_id="r1", diff=diff(change("billing:api")))
    record = answer(client, "/v1/artifacts/acme/platform/billing/r1")
    assert record["artifact"] == artifact
    stored = list(store.list(f"{PREFIX}/v1/org=acme/"))
    assert len(list(store.list(f"{PREFIX}/lineage/v1/org=acme/feed/"))) == 1
    assert not any(k.endswith("/run=r1/blast-radius.json") for k in stored)
    # Served as a damaged object, never as a bug or a guess.
    failed = answer(client, "/v1/blast-radius/acme/platform/billing/r1", 500)
    assert failed == {"error": "a stored lineage object fails its check"}


def test_a_damaged_feed_entry_is_skipped(store: Storage) -> None:
    store.create(f"{PREFIX}/lineage/v1/org=acme/feed/0000000000001-x.json", b'{"graph": 1}')
    client = app_on(store)
    send(client, "billing", factory.service_artifact({"billing:api": ["orders:api"]}))
    graph = answer(client, "/v1/graph/acme")
    assert graph["graph"]["services"] == 1
    assert orjson.loads(store.read(keys_under(store, "feed/")[0])) == {"graph": 1}


def test_readers_of_a_snapshot_apply_the_feed_again_within_the_skew_margin(
    store: Storage,
) -> None:
    root = keys.org_root(PREFIX, "acme")
    artifacts = factory.lineage_org(factory.chain_org(2))

    def feed(skew_ms: int, snapshot_every: int = 1000) -> OrgFeed:
        clock = lambda: 2_000_000  # noqa: E731 - the processes' own clock, fixed
        return OrgFeed(
            store, PREFIX, "acme", skew_ms=skew_ms, snapshot_every=snapshot_every, clock_ms=clock
        )

    def graph_of(name: str) -> RunGraph:
        return RunGraph.from_artifact(artifacts[name], f"run-{name}")

    append(store, root, Location("acme", "p", "s0"), 1, graph_of("s0"), 1_000_000)
    writer = feed(60_000, snapshot_every=1)
    assert writer.current()[1].services == 1
    (snapshot,) = keys_under(store, "snapshots/")
    # Written after the snapshot was taken, by a process whose clock is 10 s behind.
    append(store, root, Location("acme", "p", "s1"), 1, graph_of("s1"), 990_000)
    graph, version = feed(60_000).current()
    assert version.snapshot == snapshot.rpartition("/")[2]
    assert {loc.service for loc in graph.runs} == {"s0", "s1"}
    # A margin smaller than the skew misses it: the limit docs/lineage.md states.
    assert {loc.service for loc in feed(5_000).current()[0].runs} == {"s0"}


def test_a_process_reads_each_feed_entry_once_and_still_applies_late_ones(
    store: Storage,
) -> None:
    root = keys.org_root(PREFIX, "acme")
    artifacts = factory.lineage_org(factory.chain_org(3))
    counted = Watched(store)
    reader = OrgFeed(
        counted, PREFIX, "acme", skew_ms=60_000, snapshot_every=1000, clock_ms=lambda: 1_200_000
    )

    def add(service: str, written_ms: int) -> None:
        graph = RunGraph.from_artifact(artifacts[service], f"run-{service}")
        append(store, root, Location("acme", "p", service), 1, graph, written_ms)

    add("s0", 1_000_000)
    add("s1", 1_100_000)  # past the margin of s0: s0 is forgotten, and never listed again
    for _ in range(3):
        assert reader.current()[1].services == 2
    # Written late by a process whose clock is behind, within the margin of the newest.
    add("s2", 1_050_000)
    graph = reader.current()[0]
    assert {loc.service for loc in graph.runs} == {"s0", "s1", "s2"}
    feed_reads = [n for k, n in counted.reads.items() if "/feed/" in k]
    assert sorted(feed_reads) == [1, 1, 1]


class InFlight:
    """A store whose first create under ``key_part`` is still in flight while ``meanwhile`` runs."""

    def __init__(self, inner: Storage, key_part: str, meanwhile: Any) -> None:
        self.inner = inner
        self.key_part = key_part
        self.meanwhile = meanwhile

    def create(self, key: str, data: bytes) -> None:
        if self.meanwhile is not None and self.key_part in key:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        self.inner.create(key, data)

    def read(self, key: str) -> bytes:
        return self.inner.read(key)

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        return self.inner.list(prefix, start_after)


@pytest.mark.parametrize("bounded", [True, False])
def test_a_feed_entry_that_lands_late_is_appended_again_so_no_reader_misses_it(
    store: Storage, bounded: bool
) -> None:
    root = keys.org_root(PREFIX, "acme")
    artifacts = factory.lineage_org(factory.chain_org(3))
    now = [1_000_000]

    def graph_of(name: str) -> RunGraph:
        return RunGraph.from_artifact(artifacts[name], f"run-{name}")

    reader = OrgFeed(
        store, PREFIX, "acme", skew_ms=10_000, snapshot_every=1000, clock_ms=lambda: now[0]
    )
    append(store, root, Location("acme", "p", "s0"), 1, graph_of("s0"), now[0])
    assert reader.current()[1].services == 1

    def while_s1_is_in_flight() -> None:
        # Another process stores s2 and the reader lists, 20 s after s1's entry was named;
        # then s1's create lands, 30 s after: far past the margin behind the reader's newest.
        now[0] = 1_020_000
        append(store, root, Location("acme", "p", "s2"), 1, graph_of("s2"), now[0])
        assert {loc.service for loc in reader.current()[0].runs} == {"s0", "s2"}
        now[0] = 1_030_000

    writer = InFlight(store, "/feed/", while_s1_is_in_flight)
    landing = Landing(5_000, lambda: now[0]) if bounded else None
    names = append(
        writer, root, Location("acme", "p", "s1"), 1, graph_of("s1"), 1_000_500, landing=landing
    )
    seen = {loc.service for loc in reader.current()[0].runs}
    if bounded:
        # Created again under the time it landed: the reader's next listing has it.
        assert [keys.time_of(n) for n in names] == [1_000_500, 1_030_000]
        assert seen == {"s0", "s1", "s2"}
    else:
        # The limit the bound removes: a write slower than the margin is missed.
        assert len(names) == 1
        assert seen == {"s0", "s2"}


def test_a_feed_entry_that_lands_in_time_is_written_once(store: Storage) -> None:
    root = keys.org_root(PREFIX, "acme")
    graph = RunGraph.from_artifact(factory.lineage_org(factory.chain_org(1))["s0"], "run-s0")
    landing = Landing(5_000, lambda: 1_004_999)
    names = append(store, root, Location("acme", "p", "s0"), 1, graph, 1_000_000, landing=landing)
    assert len(names) == 1
    assert keys_under(store, "feed/") == [root + keys.FEED + names[0]]


class Watched:
    """A store that records every create and read, and fails the creates under ``refused``."""

    def __init__(self, inner: Storage, refused: str = "") -> None:
        self.inner = inner
        self.refused = refused
        self.created: list[str] = []
        self.reads: dict[str, int] = {}

    def create(self, key: str, data: bytes) -> None:
        if self.refused and self.refused in key:
            raise StorageUnavailable(f"{key}: refused by the test")
        self.inner.create(key, data)
        # The audit trail's event of each request is the audit tests' business.
        if "/audit/v1/" not in key:
            self.created.append(key)

    def read(self, key: str) -> bytes:
        self.reads[key] = self.reads.get(key, 0) + 1
        return self.inner.read(key)

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        return self.inner.list(prefix, start_after)


def test_a_replay_writes_the_feed_entry_its_first_attempt_lost_and_nothing_else(
    store: Storage,
) -> None:
    artifact = factory.service_artifact({"billing:api": ["orders:api"]})
    run = {"run_id": "r1", "diff": diff(change("billing:api"))}
    # The first attempt's feed entry is lost: the run is acknowledged all the same.
    send(app_on(Watched(store, refused="/feed/")), "billing", artifact, **run)
    assert keys_under(store, "feed/") == []
    watched = Watched(store)
    send(app_on(watched), "billing", artifact, **run)
    # The replay appends it, under the time of the replay, then says so beside the record.
    assert ["feed" if "/feed/" in k else k.rpartition("/")[2] for k in watched.created] == [
        "feed",
        "lineage-graph.json",
    ]
    assert len(keys_under(store, "feed/")) == 1
    # A replay of a complete run writes nothing at all.
    watched.created.clear()
    send(app_on(watched), "billing", artifact, **run)
    send(app_on(watched), "billing", artifact, **run)
    assert watched.created == []


INSIDE_MS = 1_764_500_530_000
"""2025-11-30T11:02:10Z: its margin lies inside one minute's directory (two of ten seconds)."""
TENS_MS = 1_764_500_567_000
"""2025-11-30T11:02:47Z: its margin starts in one ten-second directory, ends in the next."""
MINUTE_MS = 1_764_500_520_000
"""2025-11-30T11:02:00Z: its margin starts in the minute before."""
HOUR_MS = 1_764_504_000_000
"""2025-11-30T12:00:00Z: its margin starts in the hour before."""
MIDNIGHT_MS = 1_764_547_200_000
"""2025-12-01T00:00:00Z: its margin starts the day before."""
MOMENTS = [INSIDE_MS, TENS_MS, MINUTE_MS, HOUR_MS, MIDNIGHT_MS]


def flat_name(ms: int, tag: str) -> str:
    """A feed entry's name as earlier versions wrote it: in the day's directory itself."""
    return f"{keys.feed_day(ms)}{ms:013d}-{tag}.json"


def listed_from(start: int, names: list[str], end: int) -> set[str]:
    """Which of ``names`` the listings of a catch-up from ``start`` (up to ``end``) find."""
    return {
        name
        for prefix, after in keys.feed_listings(start, end)
        for name in names
        if name.startswith(prefix) and name > after
    }


@pytest.mark.parametrize("start", [*MOMENTS, 1_000, 1_999_999_990_000])
def test_a_catch_up_lists_the_entries_of_both_layouts_from_its_start(start: int) -> None:
    offsets = (0, 1, 9_999, 10_000, 60_000, 3_600_000, 86_400_000, 90_000_000)
    later = [n(start + o) for o in offsets for n in (keys.feed_name, lambda ms: flat_name(ms, "x"))]
    earlier = [keys.feed_name(start - 1), flat_name(start - 1, "x")]
    assert listed_from(start, [*later, *earlier], start + 90_000_000) == set(later)
    for name in later:
        # A listing of the whole feed from the start finds them too (and this layout's
        # earlier entries of the start's day, which their time tells apart); so does the
        # earlier versions' reader, which lists each day from the same flat name.
        assert name > keys.feed_start(start)
        assert not keys.is_before(name, start)
    assert all(keys.is_before(name, start) for name in earlier)
    # A flat name sorts before this layout's names of its day: the newer is told by time.
    older, newer = keys.feed_name(start + 5), flat_name(start + 6, "x")
    assert older > newer
    assert keys.is_newer(newer, older)
    assert not keys.is_newer(older, newer)


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_reader_sees_every_entry_of_both_layouts_in_one_store(
    store: Storage, moment: int
) -> None:
    # A store written by earlier versions (flat entries in the day's directory) and a rolling
    # deploy: processes of both versions append at once, each naming entries its own way.
    root = keys.org_root(PREFIX, "acme")
    artifacts = factory.lineage_org(factory.chain_org(7))
    now = [moment]
    counted = Watched(store)
    reader = OrgFeed(
        counted, PREFIX, "acme", skew_ms=10_000, snapshot_every=1000, clock_ms=lambda: now[0]
    )

    def add(service: str, ms: int, *, flat: bool) -> None:
        graph = RunGraph.from_artifact(artifacts[service], f"run-{service}")
        location = Location("acme", "p", service)
        if flat:
            store.create(root + keys.FEED + flat_name(ms, service), entry_bytes(location, 1, graph))
        else:
            append(store, root, location, 1, graph, ms)

    def services() -> set[str]:
        return {loc.service for loc in reader.current()[0].runs}

    add("s0", moment - 600_000, flat=True)  # before the deploy
    add("s1", moment - 30_000, flat=True)
    add("s2", moment, flat=False)
    assert services() == {"s0", "s1", "s2"}
    # After the reader listed: an old process's entry within the margin behind the newest
    # applied, and entries of both layouts after it.
    add("s3", moment - 5_000, flat=True)
    add("s4", moment + 1_000, flat=False)
    add("s5", moment + 1_500, flat=True)
    now[0] = moment + 3_000
    assert services() == {f"s{n}" for n in range(6)}
    add("s6", moment + 4_000, flat=False)
    now[0] = moment + 5_000
    assert services() == {f"s{n}" for n in range(7)}
    # Each entry read once: none older than a listing's start is listed again.
    feed_reads = [n for k, n in counted.reads.items() if "/feed/" in k]
    assert sorted(feed_reads) == [1] * 7


def test_a_replay_finds_the_feed_entry_an_earlier_version_wrote_flat(store: Storage) -> None:
    artifact = factory.service_artifact({"billing:api": ["orders:api"]})
    run = {"run_id": "r1", "diff": diff(change("billing:api"))}
    send(app_on(Watched(store, refused="/feed/")), "billing", artifact, **run)
    record = next(k for k in store.list(f"{PREFIX}/v1/") if k.endswith("/run=r1/payload.json"))
    received_at = orjson.loads(store.read(record))["received_at"]
    location = "/v1/artifacts/acme/platform/billing/r1"
    _, flat = keys.run_feed_names(received_at, location)
    graph = RunGraph.from_artifact(artifact, "r1")
    entry = entry_bytes(Location("acme", "platform", "billing"), 1, graph)
    store.create(keys.org_root(PREFIX, "acme") + keys.FEED + flat, entry)
    watched = Watched(store)
    send(app_on(watched), "billing", artifact, **run)
    assert watched.created == []
    assert keys_under(store, "feed/") == [keys.org_root(PREFIX, "acme") + keys.FEED + flat]
