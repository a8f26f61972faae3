"""The read API and its index, on every storage driver (``STORES``), through ``App.handle``.

Each test builds the app on a fresh store of each driver, with a clock it controls, so the
answers (orders, ties, pages) are exact. HTTP behaviour across runtimes is in the conformance
suite; this is the same answers from ``fs``, ``s3``, ``r2`` and ``mirror``.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from werkzeug.test import Client

from stricture_server import Settings
from stricture_server.app import App
from stricture_server.auth import NoAuth
from stricture_server.commands.reindex import record_keys, reindex
from stricture_server.errors import ObjectNotFound
from stricture_server.ingest.validation import EnvelopeValidator
from stricture_server.runstore.entries import Counts, Summary, parse_timeline, timeline_name, to_ms
from stricture_server.runstore.index import Index, RunFacts, ServiceRef
from stricture_server.runstore.names import (
    Names,
    complete_key,
    organizations_prefix,
    projects_prefix,
)
from stricture_server.runstore.records import normalize
from stricture_server.runstore.runs import RunStore
from stricture_server.storage import Storage

from . import factory, legacy
from .test_storage_contract import STORES

PREFIX = "p"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Api:
    """The app on one store, and helpers to ingest and read."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.clock = Clock()
        self.runs = RunStore(storage, PREFIX)
        settings = Settings(object_prefix=PREFIX)
        validator = EnvelopeValidator(strict=True, max_errors=50)
        self.app = App(settings, self.runs, NoAuth(), validator, clock=self.clock)
        self.client = Client(self.app)

    def ingest(self, organization: str = "acme", **fields: Any) -> str:
        document = factory.envelope(organization=organization, **fields)
        reply = self.client.post("/v1/artifacts", data=orjson.dumps(document))
        assert reply.status_code == 202, reply.get_data()
        run_id: str = reply.json["run_id"]  # type: ignore[index]
        return run_id

    def get(self, path: str, status: int = 200) -> Any:
        reply = self.client.get(path)
        assert reply.status_code == status, reply.get_data()
        return reply.json

    def pages(self, path: str, key: str) -> Iterator[list[Any]]:
        """Every page of a listing, following ``next_cursor``."""
        joiner = "&" if "?" in path else "?"
        page = self.get(path)
        yield page[key]
        while page["next_cursor"]:
            page = self.get(f"{path}{joiner}cursor={page['next_cursor']}")
            yield page[key]


@pytest.fixture(params=sorted(STORES))
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The app on a fresh store of each driver."""
    for storage in STORES[request.param](tmp_path):
        yield Api(storage)


SERVICE = "/v1/artifacts/acme/checkout/api"


def run_ids(runs: list[dict[str, Any]]) -> list[str]:
    return [r["run_id"] for r in runs]


def test_latest_is_the_newest_by_generated_at_else_received_at(api: Api) -> None:
    api.get(f"{SERVICE}/latest", 404)
    api.ingest(run_id="old", generated_at="2026-02-01T00:00:00Z")
    api.ingest(run_id="new", generated_at="2026-02-03T00:00:00+05:00")
    api.ingest(run_id="middle", generated_at="2026-02-02T00:00:00Z")
    reply = api.client.get(f"{SERVICE}/latest")
    assert reply.headers["Content-Location"] == f"{SERVICE}/new"
    assert reply.json["run_id"] == "new"  # type: ignore[index]
    # Without generated_at, the time received counts (the clock is at 2026-03-01).
    api.ingest(run_id="received")
    assert api.get(f"{SERVICE}/latest")["run_id"] == "received"
    # Path identities are sanitised, and a differently spelled "latest" is still latest.
    assert api.get("/v1/artifacts/ACME/Checkout/API/Latest")["run_id"] == "received"


def test_ties_go_to_the_later_received_then_the_smaller_run_id(api: Api) -> None:
    same = "2026-02-01T00:00:00Z"
    api.ingest(run_id="b", generated_at=same)
    api.clock.now += timedelta(seconds=1)
    api.ingest(run_id="c", generated_at=same)
    api.ingest(run_id="a", generated_at=same)
    assert run_ids(api.get(SERVICE)["runs"]) == ["a", "c", "b"]
    assert api.get(f"{SERVICE}/latest")["run_id"] == "a"


def test_summaries_say_what_the_records_say(api: Api) -> None:
    api.ingest(
        run_id="Build 7",
        commit_sha="ABCDEF0123",
        generated_at="2026-02-01T01:02:03.456789+01:00",
        diff=factory.diff(3),
    )
    api.ingest(run_id="plain")
    runs = api.get(SERVICE)["runs"]
    assert runs == [
        {
            "run_id": "plain",
            "commit_sha": None,
            "generated_at": None,
            "received_at": "2026-03-01T12:00:00.000Z",
            "location": f"{SERVICE}/plain",
            "severity_counts": None,
        },
        {
            "run_id": "build-7",
            "commit_sha": "abcdef0123",
            "generated_at": "2026-02-01T00:02:03.456Z",
            "received_at": "2026-03-01T12:00:00.000Z",
            "location": f"{SERVICE}/build-7",
            "severity_counts": {"total": 3, "high": 2, "medium": 1, "low": 0, "info": 0},
        },
    ]


def test_pages_cover_every_run_once_newest_first(api: Api) -> None:
    for n in range(23):
        api.ingest(run_id=f"r{n:02d}", generated_at=f"2026-02-{n % 5 + 1:02d}T{n:02d}:00:00Z")
    expected = sorted((f"2026-02-{n % 5 + 1:02d}T{n:02d}", f"r{n:02d}") for n in range(23))
    pages = list(api.pages(f"{SERVICE}?limit=5", "runs"))
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [r for page in pages for r in run_ids(page)] == [r for _, r in reversed(expected)]


def test_date_range_is_inclusive_utc_days(api: Api) -> None:
    times = {
        "before": "2026-02-01T23:59:59.999Z",
        "first": "2026-02-02T00:00:00Z",
        "inside": "2026-02-03T01:00:00+02:00",  # 2026-02-02T23:00Z
        "last": "2026-02-03T23:59:59.999Z",
        "after": "2026-02-04T00:00:00Z",
    }
    for run_id, moment in times.items():
        api.ingest(run_id=run_id, generated_at=moment)
    found = api.get(f"{SERVICE}?from=2026-02-02&to=2026-02-03")["runs"]
    assert run_ids(found) == ["last", "inside", "first"]
    assert run_ids(api.get(f"{SERVICE}?to=2026-02-01")["runs"]) == ["before"]
    assert run_ids(api.get(f"{SERVICE}?from=2026-02-04")["runs"]) == ["after"]
    one_day = list(api.pages(f"{SERVICE}?from=2026-02-02&to=2026-02-02&limit=1", "runs"))
    assert [run_ids(p) for p in one_day] == [["inside"], ["first"]]


def test_commit_lookup_by_full_sha_or_prefix(api: Api) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    api.ingest(run_id="one", commit_sha=sha, generated_at="2026-02-01T00:00:00Z")
    api.ingest(run_id="two", commit_sha=sha.upper(), generated_at="2026-02-02T00:00:00Z")
    api.ingest(run_id="other", commit_sha="0123456fff", generated_at="2026-02-03T00:00:00Z")
    api.ingest(run_id="none", generated_at="2026-02-04T00:00:00Z")
    assert run_ids(api.get(f"{SERVICE}?commit_sha={sha}")["runs"]) == ["two", "one"]
    assert run_ids(api.get(f"{SERVICE}?commit_sha=0123456789A")["runs"]) == ["two", "one"]
    # A prefix matching several commits lists them commit by commit, each newest first.
    assert run_ids(api.get(f"{SERVICE}?commit_sha=0123456")["runs"]) == ["two", "one", "other"]
    assert api.get(f"{SERVICE}?commit_sha=fedcba9")["runs"] == []
    ranged = api.get(f"{SERVICE}?commit_sha={sha}&from=2026-02-02")["runs"]
    assert run_ids(ranged) == ["two"]
    pages = list(api.pages(f"{SERVICE}?commit_sha=0123456&limit=2", "runs"))
    assert [run_ids(p) for p in pages] == [["two", "one"], ["other"]]


def test_change_feed_is_every_matching_change_newest_run_first(api: Api) -> None:
    expected: list[tuple[str, int, str, str]] = []
    for n in range(6):
        run_id = f"r{n}"
        diff = factory.diff(n)
        api.ingest(run_id=run_id, diff=diff, generated_at=f"2026-02-0{n + 1}T00:00:00Z")
        for i, change in enumerate(diff["changes"]):
            expected.append((run_id, i, change["severity"], change["change_type"]))
    api.ingest(run_id="no-diff", generated_at="2026-02-09T00:00:00Z")
    expected.sort(key=lambda e: (-int(e[0][1:]), e[1]))

    def feed(query: str) -> list[tuple[str, int]]:
        return [
            (c["run_id"], c["index"])
            for page in api.pages(f"/v1/changes/acme/checkout/api?{query}", "changes")
            for c in page
        ]

    assert feed("limit=4") == [(r, i) for r, i, _, _ in expected]
    assert feed("limit=1&severity=medium") == [(r, i) for r, i, s, _ in expected if s == "medium"]
    assert feed("change_type=field_removed,other_type&limit=2") == [
        (r, i) for r, i, _, t in expected if t == "field_removed"
    ]
    assert feed("severity=low,info") == []
    assert feed("from=2026-02-05&to=2026-02-05") == [(r, i) for r, i, _, _ in expected if r == "r4"]
    first = api.get("/v1/changes/acme/checkout/api?limit=1")["changes"][0]
    assert first["time"] == "2026-02-06T00:00:00.000Z"
    assert first["location"] == f"{SERVICE}/r5"
    assert first["change"]["field_id"] == "response_orders_field_000000"


def test_any_change_type_the_diff_schema_accepts_can_be_filtered_on(api: Api) -> None:
    # The schema gives change types a pattern, not a list: a stored diff may hold any of them,
    # so the filter takes any well-formed type, and finds it.
    diff = factory.diff(3)
    diff["changes"][1]["change_type"] = "bogus"
    api.ingest(run_id="r1", diff=diff)
    changes = api.get("/v1/changes/acme/checkout/api?change_type=bogus")["changes"]
    assert [c["index"] for c in changes] == [1]


def test_projects_and_services_with_their_latest_runs(api: Api) -> None:
    for project, service, run_id in [
        ("checkout", "api", "a1"),
        ("checkout", "api", "a2"),
        ("checkout", "api-v2", "b1"),
        ("checkout", "web", "c1"),
        ("billing", "api", "d1"),
    ]:
        api.clock.now += timedelta(minutes=1)
        api.ingest(project=project, service=service, run_id=run_id)
    assert api.get("/v1/artifacts/Acme")["projects"] == [
        {"project": "billing", "location": "/v1/artifacts/acme/billing"},
        {"project": "checkout", "location": "/v1/artifacts/acme/checkout"},
    ]
    pages = list(api.pages("/v1/artifacts/acme/checkout?limit=2", "services"))
    services = {s["service"]: s for page in pages for s in page}
    assert [len(p) for p in pages] == [2, 1]
    assert sorted(services) == ["api", "api-v2", "web"]
    assert services["api"]["latest"]["run_id"] == "a2"
    assert services["api-v2"]["location"] == "/v1/artifacts/acme/checkout/api-v2"
    assert [len(p) for p in api.pages("/v1/artifacts/acme?limit=1", "projects")] == [1, 1]
    assert api.get("/v1/artifacts/nobody")["projects"] == []


def test_a_replay_indexes_the_stored_run_once(api: Api) -> None:
    api.ingest(run_id="again")
    api.clock.now += timedelta(hours=1)
    api.ingest(run_id="again")
    assert api.get(SERVICE)["runs"][0]["received_at"] == "2026-03-01T12:00:00.000Z"
    assert len(api.get(SERVICE)["runs"]) == 1


def test_many_writers_on_one_service_and_day_lose_nothing(api: Api) -> None:
    barrier = threading.Barrier(12)

    def write(n: int) -> None:
        barrier.wait()
        for i in range(3):
            api.ingest(run_id=f"w{n}-{i}", commit_sha="abcdef1")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(api.get(f"{SERVICE}?limit=1000")["runs"]) == 36
    assert len(api.get(f"{SERVICE}?commit_sha=abcdef1&limit=1000")["runs"]) == 36
    # The writers raced on the first run of a new store: its names were entered once each.
    assert [o["organization"] for o in api.get("/v1/artifacts")["organizations"]] == ["acme"]
    assert [s["service"] for s in api.get("/v1/artifacts/acme/checkout")["services"]] == ["api"]


def test_a_record_without_its_index_is_repaired_by_a_replay_or_reindex(api: Api) -> None:
    # The ingest stopped after storing the record, before its index objects.
    document = factory.envelope(organization="acme", run_id="lost", commit_sha="abcdef1")
    api.runs.create(normalize(document, T0), T0)
    api.get(f"{SERVICE}/latest", 404)
    done = reindex(api.storage, PREFIX, record_keys(api.storage, PREFIX), jobs=4)
    # Timeline, commit and organization feed entries, and the entries of the organization,
    # project and service.
    assert (done.records, done.created, done.unreadable) == (1, 6, [])
    assert done.lineage == 1  # the run's lineage feed entry and lineage-graph.json
    assert api.get(f"{SERVICE}/latest")["run_id"] == "lost"
    assert run_ids(api.get(f"{SERVICE}?commit_sha=abcdef1")["runs"]) == ["lost"]
    again = reindex(api.storage, PREFIX, record_keys(api.storage, PREFIX))
    assert (again.records, again.created) == (1, 0)
    # The client's retry (an identical replay) repairs it too.
    other = factory.envelope(organization="acme", run_id="retried")
    api.runs.create(normalize(other, T0), T0)
    assert api.ingest(**{k: v for k, v in other.items() if k != "organization"}) == "retried"
    assert "retried" in run_ids(api.get(SERVICE)["runs"])


def test_reindex_leaves_unreadable_records_and_reports_them(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    api.ingest(run_id="fine")
    bad = f"{PREFIX}/v1/org=acme/project=checkout/service=api/date=2026-03-01/run=x/payload.json"
    api.storage.create(bad, b"not json")
    done = reindex(api.storage, PREFIX, record_keys(api.storage, PREFIX), progress=True)
    assert (done.records, done.created, done.unreadable) == (2, 0, [bad])
    assert "2/2" in capsys.readouterr().err
    assert api.storage.read(bad) == b"not json"


def test_a_summary_too_long_for_a_key_name_is_read_from_the_body(api: Api) -> None:
    # 64-hex commit + 128-character run id: the commit entry's name is over the budget.
    run_id = "r" * 128
    sha = "f" * 64
    api.ingest(run_id=run_id, commit_sha=sha, diff=factory.diff(2))
    entry = api.get(SERVICE)["runs"][0]
    assert api.get(f"{SERVICE}?commit_sha={sha}")["runs"] == [entry]
    # Counts too large for the timeline name (a fabricated run, written to the index only).
    huge = Counts(10**12 - 1, 10**12 - 1, 10**12 - 1, 10**12 - 1, 10**12 - 1)
    summary = Summary("h" * 128, to_ms(T0) + 1, to_ms(T0), True, sha, huge)
    assert timeline_name(summary).endswith("!b")
    entry_of_huge = parse_timeline(timeline_name(summary))
    assert entry_of_huge is not None
    assert entry_of_huge.summary is None
    service = ServiceRef("acme", "checkout", "api")
    # Its timeline entry, its commit entry and its organization feed entry.
    assert Index(api.storage, PREFIX).add(RunFacts(service, summary, ())) == 3
    listed = api.get(f"{SERVICE}?limit=1")["runs"][0]
    assert listed["run_id"] == "h" * 128
    assert listed["severity_counts"]["high"] == 10**12 - 1
    assert api.get(f"{SERVICE}?commit_sha={sha}")["runs"][0] == listed
    assert api.get("/v1/artifacts/acme/checkout")["services"][0]["latest"] == listed
    # The feed reads the entry to learn it has no changes, then goes on to the older run.
    feed = api.get("/v1/changes/acme/checkout/api")["changes"]
    assert [(c["run_id"], c["index"]) for c in feed] == [(run_id, 0), (run_id, 1)]
    assert api.get("/v1/changes/acme")["changes"] == feed


def test_latest_skips_foreign_keys_and_finds_a_record_by_its_claim(api: Api) -> None:
    api.ingest(run_id="moved", generated_at="2026-02-01T00:00:00Z")
    service = ServiceRef("acme", "checkout", "api")
    api.storage.create(f"{service.index_prefix(PREFIX)}runs/0-not-an-entry", b"{}")
    # An entry whose time is on a day that holds no record of the run (as for a record
    # written under another rule): latest finds the record through its claim.
    summary = Summary("moved", to_ms(T0), to_ms(T0), True, None, None)
    Index(api.storage, PREFIX).add(RunFacts(service, summary, ()))
    reply = api.client.get(f"{SERVICE}/latest")
    assert reply.json["generated_at"] == "2026-02-01T00:00:00Z"  # type: ignore[index]
    assert reply.headers["Content-Location"] == f"{SERVICE}/moved"
    assert run_ids(api.get(SERVICE)["runs"]) == ["moved", "moved"]


def cursor_of(plain: str) -> str:
    return base64.urlsafe_b64encode(plain.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        (SERVICE, "!!!!"),
        (SERVICE, "abc"),
        (SERVICE, cursor_of("t:0:../../../etc")),
        (SERVICE, cursor_of("t:0:zzzz")),
        (SERVICE, cursor_of("c:0:zzzdcgxjagvz!zzzdc6adliy6!r4!r..")),
        (SERVICE, cursor_of("t:01:zzzdcgxjagvz!zzzdc6adliy6!r4!r..")),
        (
            "/v1/changes/acme/checkout/api",
            cursor_of("c:3:zzzdcgxjagvz!zzzdc6adliy6!r4!r..1-1-0-0-0"),
        ),
        ("/v1/artifacts/acme/checkout", cursor_of("s:0:UPPER")),
        ("/v1/artifacts/acme", cursor_of("s:0:checkout")),
        ("/v1/artifacts/acme", base64.urlsafe_b64encode(b"p:0:\xff").decode()),
    ],
)
def test_a_tampered_cursor_is_a_400(api: Api, path: str, cursor: str) -> None:
    api.ingest(run_id="r4", diff=factory.diff(1))
    answer = api.get(f"{path}?cursor={cursor}", 400)
    assert answer["error"] == "invalid cursor"


def names(page: list[dict[str, Any]], label: str) -> list[str]:
    return [item[label] for item in page]


def is_marked(storage: Storage) -> bool:
    """Whether the store says every name has its entry."""
    try:
        storage.read(complete_key(PREFIX))
    except ObjectNotFound:
        return False
    return True


def test_organizations_are_listed_by_page(api: Api) -> None:
    assert api.get("/v1/artifacts") == {"organizations": [], "next_cursor": None}
    assert not is_marked(api.storage)
    for organization in ("Zeta", "acme", "Beta Co", "acme"):
        api.ingest(organization=organization)
    # The first ingest found no index at all: the store was complete from the start.
    assert is_marked(api.storage)
    assert api.get("/v1/artifacts")["organizations"] == [
        {"organization": "acme", "location": "/v1/artifacts/acme"},
        {"organization": "beta-co", "location": "/v1/artifacts/beta-co"},
        {"organization": "zeta", "location": "/v1/artifacts/zeta"},
    ]
    pages = list(api.pages("/v1/artifacts?limit=2", "organizations"))
    assert [names(p, "organization") for p in pages] == [["acme", "beta-co"], ["zeta"]]
    # Something under the names that is not a name entry is never listed.
    api.storage.create(f"{organizations_prefix(PREFIX)}Not-A-Name", b"{}")
    api.storage.create(f"{projects_prefix(PREFIX, 'acme')}x!y", b"{}")
    assert len(api.get("/v1/artifacts")["organizations"]) == 3
    assert names(api.get("/v1/artifacts/acme")["projects"], "project") == ["checkout"]
    project_cursor = api.get("/v1/artifacts/zeta?limit=1")["next_cursor"]
    assert project_cursor is None
    assert api.get(f"/v1/artifacts?cursor={cursor_of('p:0:acme')}", 400)["error"] == (
        "invalid cursor"
    )


class Counted:
    """The store under test, counting the requests made to it."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.listings: list[str] = []
        self.reads = 0

    def create(self, key: str, data: bytes) -> None:
        self.inner.create(key, data)

    def read(self, key: str) -> bytes:
        self.reads += 1
        return self.inner.read(key)

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        self.listings.append(prefix)
        return self.inner.list(prefix, start_after)

    def spent(self) -> tuple[int, int]:
        """Listings and reads since the last call."""
        counts = (len(self.listings), self.reads)
        self.listings.clear()
        self.reads = 0
        return counts


def test_a_page_of_names_is_one_listing_whatever_the_runs(api: Api) -> None:
    for n in range(12):
        api.ingest(project=f"p{n:02d}", run_id="r")
    for n in range(8):
        api.ingest(project="big", service=f"s{n}", run_id="r")
    for n in range(20):
        api.clock.now += timedelta(minutes=1)
        api.ingest(project="big", service="s3", run_id=f"many-{n:02d}")
    counted = Counted(api.storage)
    reader = Api(counted)
    first = reader.get("/v1/artifacts/acme?limit=5")
    assert names(first["projects"], "project") == ["big", "p00", "p01", "p02", "p03"]
    assert counted.spent() == (1, 1)  # the names' listing, and the mark, read once
    second = reader.get(f"/v1/artifacts/acme?limit=5&cursor={first['next_cursor']}")
    assert names(second["projects"], "project") == ["p04", "p05", "p06", "p07", "p08"]
    assert counted.spent() == (1, 0)
    services = reader.get("/v1/artifacts/acme/big?limit=4&cursor=" + cursor_of("s:0:s1"))
    assert names(services["services"], "service") == ["s2", "s3", "s4", "s5"]
    assert services["services"][1]["latest"]["run_id"] == "many-19"
    # The names' listing, then one listing of each service's timeline for its latest run.
    assert counted.spent() == (5, 0)
    assert reader.get("/v1/artifacts?limit=1")["organizations"][0]["organization"] == "acme"
    assert counted.spent() == (1, 0)


def test_a_store_from_before_name_entries_is_scanned_until_reindexed(api: Api) -> None:
    for organization, project, service in [
        ("acme", "ledger", "api"),
        ("acme", "ledger", "web"),
        ("acme", "checkout", "api"),
        ("other", "x", "y"),
    ]:
        legacy.store_run(api.runs, T0, organization=organization, project=project, service=service)
    # After the upgrade, new names get entries; a new organization does not mark the store
    # complete, since older index objects are there.
    api.ingest(project="new", run_id="n1")
    api.ingest(organization="fresh", run_id="f1")
    assert not is_marked(api.storage)

    def answers() -> list[Any]:
        return [
            list(api.pages("/v1/artifacts?limit=2", "organizations")),
            list(api.pages("/v1/artifacts/acme?limit=2", "projects")),
            api.get("/v1/artifacts/acme/ledger"),
        ]

    scanned = answers()
    assert [names(p, "organization") for p in scanned[0]] == [["acme", "fresh"], ["other"]]
    assert [names(p, "project") for p in scanned[1]] == [["checkout", "ledger"], ["new"]]
    assert names(scanned[2]["services"], "service") == ["api", "web"]
    assert scanned[2]["services"][1]["latest"]["run_id"] == "old"
    cursor = api.get("/v1/artifacts/acme?limit=1")["next_cursor"]
    done = reindex(api.storage, PREFIX, record_keys(api.storage, PREFIX), every_record=True)
    # The names only the older runs use: ledger, api, web, checkout, api, and other's three.
    assert done.created == 8
    assert is_marked(api.storage)
    assert answers() == scanned
    # A cursor given before the rebuild resumes after it.
    after = api.get(f"/v1/artifacts/acme?limit=1&cursor={cursor}")["projects"]
    assert names(after, "project") == ["ledger"]


def test_a_service_entered_before_its_first_run_is_indexed_has_no_latest(api: Api) -> None:
    api.ingest(run_id="r1")
    # An ingest that stopped between its names and its index objects, leaving a stray key.
    Names(api.storage, PREFIX).add("acme", "checkout", "web")
    web = ServiceRef("acme", "checkout", "web")
    api.storage.create(f"{web.index_prefix(PREFIX)}runs/not-an-entry", b"{}")
    services = api.get("/v1/artifacts/acme/checkout")["services"]
    assert [(s["service"], s["latest"] and s["latest"]["run_id"]) for s in services] == [
        ("api", "r1"),
        ("web", None),
    ]
