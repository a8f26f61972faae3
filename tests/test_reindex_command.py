"""``stricture-server reindex`` as the real command: configured by the environment, JSON out."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import orjson

from stricture_server.blast import keys
from stricture_server.blast.state import entry_bytes
from stricture_server.lineage.edges import RunGraph
from stricture_server.lineage.graph import Location
from stricture_server.reads.listings import Listings
from stricture_server.reads.query import Queries
from stricture_server.runstore.names import complete_key
from stricture_server.runstore.records import RunIdentity, normalize
from stricture_server.runstore.runs import RunStore
from stricture_server.storage.fs import FileStorage

from . import factory, legacy
from .commands import on_terminal, run_command


def run_reindex(data_dir: Path, stderr: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = {"STRICTURE_SERVER_DATA_DIR": str(data_dir)}
    return run_command(env, "reindex", "--jobs", "2", stderr=stderr)


def test_reindex_rebuilds_what_is_missing_then_nothing(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    runs = RunStore(storage, "stricture")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(3):
        document = factory.envelope(organization="acme", run_id=f"r{n}", commit_sha="abcdef1")
        runs.create(normalize(document, now), now)
    latest = RunIdentity("acme", "checkout", "api", "latest")
    first = run_reindex(tmp_path)
    assert first.returncode == 0, first.stderr
    # Per run its timeline, commit and organization feed entries; once, the organization,
    # project and service; and per run its lineage feed entry and lineage-graph.json; and the
    # compacts of their day, which is over: the service's and the organization's.
    summary = {
        "records": 3,
        "created": 12,
        "lineage": 3,
        "compacts": 1,
        "organization_compacts": 1,
        "unreadable": [],
    }
    assert orjson.loads(first.stdout) == summary
    assert len(list(storage.list("stricture/lineage/v1/org=acme/feed/"))) == 3
    graphs = [k for k in storage.list("stricture/v1/") if k.endswith("/lineage-graph.json")]
    assert len(graphs) == 3
    # Not a terminal: no progress bar in the output.
    assert "run/s" not in first.stderr
    assert Queries(runs).latest(latest).identity.run_id == "r0"
    again = run_reindex(tmp_path)
    rebuilt = orjson.loads(again.stdout)
    assert (again.returncode, rebuilt["created"], rebuilt["compacts"]) == (0, 0, 0)


def test_reindex_finds_the_feed_entries_of_both_layouts(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    runs = RunStore(storage, "stricture")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(3):
        runs.create(normalize(factory.envelope(organization="acme", run_id=f"r{n}"), now), now)
    feed = keys.org_root("stricture", "acme") + keys.FEED
    graph = RunGraph.from_artifact({}, "r")
    body = entry_bytes(Location("acme", "checkout", "api"), 1, graph)
    # r0's entry as an earlier version named it (flat in the day), r1's as this one does.
    for n, layout in ((0, 1), (1, 0)):
        identity = RunIdentity("acme", "checkout", "api", f"r{n}")
        received_at = orjson.loads(storage.read(runs.record_key(identity)))["received_at"]
        storage.create(feed + keys.run_feed_names(received_at, identity.location)[layout], body)
    done = run_reindex(tmp_path)
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["lineage"] == 1
    assert len(list(storage.list(feed))) == 3


def test_reindex_exits_1_naming_an_unreadable_record(tmp_path: Path) -> None:
    key = "stricture/v1/org=a/project=b/service=c/date=2026-03-01/run=x/payload.json"
    FileStorage(tmp_path).create(key, b"[1, 2]")
    done = run_reindex(tmp_path)
    assert done.returncode == 1
    *logged, summary = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert summary == {
        "records": 1,
        "created": 0,
        "lineage": 0,
        "compacts": 0,
        "organization_compacts": 0,
        "unreadable": [key],
    }
    # The log (JSON lines on stdout, like the server's) names it too, and the record is kept.
    assert [(line["message"], line["key"]) for line in logged] == [("not a readable record", key)]
    assert FileStorage(tmp_path).read(key) == b"[1, 2]"


def test_reindex_draws_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    runs = RunStore(FileStorage(tmp_path), "stricture")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(2):
        document = factory.envelope(organization="acme", run_id=f"r{n}")
        runs.create(normalize(document, now), now)
    code, drawn = on_terminal(lambda stderr: run_reindex(tmp_path, stderr=stderr).returncode)
    assert code == 0
    assert b"2/2" in drawn


def run_scoped(data_dir: Path, *scope: str) -> subprocess.CompletedProcess[str]:
    return run_command({"STRICTURE_SERVER_DATA_DIR": str(data_dir)}, "reindex", *scope)


def test_reindex_can_be_narrowed_to_an_organization_project_or_service(tmp_path: Path) -> None:
    runs = RunStore(FileStorage(tmp_path), "stricture")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    places = [("acme", "checkout", "api"), ("acme", "checkout", "web"), ("acme", "ledger", "api")]
    for organization, project, service in [*places, ("other", "checkout", "api")]:
        document = factory.envelope(
            organization=organization, project=project, service=service, run_id="r1"
        )
        runs.create(normalize(document, now), now)
    # Names are sanitised as ingest sanitises them: " ACME " is acme.
    # Each step adds one run's timeline and organization feed entries and the names it is the
    # first to use.
    steps = [
        (["--organization", " ACME ", "--project", "Checkout", "--service", "API"], 5),
        (["--organization", "acme", "--project", "checkout"], 3),
        (["--organization", "acme"], 4),
        ([], 5),
    ]
    for scope, created in steps:
        done = run_scoped(tmp_path, *scope)
        assert done.returncode == 0, done.stderr
        assert orjson.loads(done.stdout)["created"] == created, scope
    assert orjson.loads(run_scoped(tmp_path).stdout) == {
        "records": 4,
        "created": 0,
        "lineage": 0,
        "compacts": 0,
        "organization_compacts": 0,
        "unreadable": [],
    }


def test_a_reindex_scope_with_a_gap_or_an_empty_name_is_refused(tmp_path: Path) -> None:
    for scope in (["--service", "api"], ["--organization", "a", "--service", "b"]):
        done = run_scoped(tmp_path, *scope)
        assert done.returncode == 2
        assert "--service needs --project" in done.stderr
    done = run_scoped(tmp_path, "--organization", "!!!")
    assert done.returncode == 2
    assert "org '!!!' is empty once sanitised" in done.stderr
    # Refused as ingest refuses it, rather than narrowed to the "acme" it would strip to.
    done = run_scoped(tmp_path, "--organization", "Σacme")
    assert done.returncode == 2
    assert "org 'Σacme' holds 'Σ': names take only ASCII letters and digits" in done.stderr


def test_only_a_reindex_of_the_whole_store_marks_its_names_complete(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    runs = RunStore(storage, "stricture")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    for organization in ("acme", "other"):
        legacy.store_run(runs, now, organization=organization)
    listings = Listings(storage, "stricture")

    def marked() -> bool:
        return any(storage.list(complete_key("stricture")))

    assert run_scoped(tmp_path, "--organization", "acme").returncode == 0
    assert not marked()
    assert run_scoped(tmp_path).returncode == 0
    assert marked()
    found = listings.organizations({})["organizations"]
    assert [o["organization"] for o in found] == ["acme", "other"]


def test_compact_makes_the_compacts_of_closed_days_then_none(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    runs = RunStore(storage, "stricture")
    for day in (1, 2):
        now = datetime(2026, 3, day, tzinfo=UTC)
        for service in ("api", "web"):
            document = factory.envelope(organization="acme", service=service, run_id=f"r{day}")
            runs.create(normalize(document, now), now)
    assert run_reindex(tmp_path).returncode == 0  # indexes them, and compacts their days
    env = {"STRICTURE_SERVER_DATA_DIR": str(tmp_path)}
    done = run_command(env, "compact", "--organization", "acme", "--project", "checkout")
    assert done.returncode == 0, done.stderr
    made = {"services": 2, "compacts": 0, "organization_compacts": 0, "organization_entries": 0}
    assert orjson.loads(done.stdout) == made
    compacts = list(storage.list("stricture/compact/v1/org=acme/"))
    # Each day's compact of each service, and of the organization.
    days = [key for key in compacts if "/day/" in key and "!" not in key.rpartition("/")[2]]
    assert len(days) == 6
    # A store whose compacts are lost (a copy of the index alone): made again, the
    # organization's from its feed entries, written again from the services' timelines.
    other = tmp_path / "copy"
    for key in storage.list("stricture/"):
        if "/compact/" not in key:
            FileStorage(other).create(key, storage.read(key))
    done = run_command({"STRICTURE_SERVER_DATA_DIR": str(other)}, "compact")
    made = {"services": 2, "compacts": 4, "organization_compacts": 2, "organization_entries": 4}
    assert orjson.loads(done.stdout) == made
