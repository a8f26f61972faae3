"""The run store: claim then record, replay, conflict, and the crash in between."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from stricture_server.errors import RecordExists, RecordNotFound
from stricture_server.runstore.records import identity_from_path, normalize
from stricture_server.runstore.runs import RunStore
from stricture_server.storage.fs import FileStorage

from . import factory

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def runs(tmp_path: Path) -> RunStore:
    return RunStore(FileStorage(tmp_path), "pfx")


def test_record_and_claim_keys(runs: RunStore) -> None:
    record = normalize(factory.envelope(organization="Org", run_id="R"), NOW)
    accepted = runs.create(record, NOW)
    assert (
        accepted.key
        == "pfx/v1/org=org/project=checkout/service=api/date=2026-05-04/run=r/payload.json"
    )
    claim = orjson.loads(
        runs.storage.read("pfx/v1/org=org/project=checkout/service=api/runs/run=r.json")
    )
    assert claim == {
        "digest": record.digest,
        "key": accepted.key,
        "received_at": "2026-05-04T12:00:00.000Z",
    }
    stored = orjson.loads(runs.read(record.identity))
    assert stored["received_at"] == "2026-05-04T12:00:00.000Z"
    assert stored["digest"] == record.digest


def test_digest_ignores_key_order_and_identity_spelling(runs: RunStore) -> None:
    a = normalize(
        {
            "organization": "Org",
            "project": "p",
            "service": "s",
            "run_id": "r",
            "artifact": {"schema_version": "1", "fields": []},
        },
        NOW,
    )
    b = normalize(
        {
            "artifact": {"fields": [], "schema_version": "1"},
            "run_id": "R",
            "service": "S",
            "project": " P ",
            "organization": "ORG",
        },
        NOW,
    )
    assert a.digest == b.digest


def test_crash_between_claim_and_record_is_completed_by_a_replay(runs: RunStore) -> None:
    document = factory.envelope(run_id="r1")
    record = normalize(document, NOW)
    # What a crash after the claim leaves behind: the claim only.
    key = record.identity.payload_key("pfx", record.day)
    first = "2026-05-04T11:59:00.000Z"
    claim = orjson.dumps({"digest": record.digest, "key": key, "received_at": first})
    runs.storage.create(record.identity.claim_key("pfx"), claim)
    with pytest.raises(RecordNotFound):
        runs.read(record.identity)
    with pytest.raises(RecordExists):
        runs.create(normalize({**document, "summary": "other"}, NOW), NOW)
    accepted = runs.create(normalize(document, NOW), NOW)
    assert accepted.replay
    assert accepted.received_at == first
    stored = orjson.loads(runs.read(record.identity))
    assert stored["digest"] == record.digest
    assert stored["received_at"] == first  # the record agrees with its claim


def test_replay_on_another_day_answers_with_the_first_key(runs: RunStore) -> None:
    document = factory.envelope(run_id="r1")
    first = runs.create(normalize(document, NOW), NOW)
    later = datetime(2026, 6, 1, tzinfo=UTC)
    again = runs.create(normalize(document, later), later)
    assert again.replay
    assert again.key == first.key
    assert again.received_at == first.received_at == "2026-05-04T12:00:00.000Z"
    assert list(runs.storage.list("pfx/")) == sorted([first.key, first.identity.claim_key("pfx")])


def test_read_by_path_identity_is_sanitised(runs: RunStore) -> None:
    record = normalize(factory.envelope(organization="Acme Inc", run_id="Run 1"), NOW)
    runs.create(record, NOW)
    assert runs.read(identity_from_path("ACME  inc", "CheckOut", "API", "run-1"))


def test_twenty_writers_with_different_bodies_one_winner(runs: RunStore) -> None:
    base = factory.envelope(run_id="race")
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def write(n: int) -> None:
        record = normalize({**base, "summary": f"writer {n}"}, NOW)
        barrier.wait()
        try:
            runs.create(record, NOW)
            outcomes.append(f"won {n}")
        except RecordExists:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1
    assert outcomes.count("conflict") == 19
    stored = orjson.loads(runs.read(normalize(base, NOW).identity))
    assert f"won {stored['summary'].split()[1]}" == winners[0]
