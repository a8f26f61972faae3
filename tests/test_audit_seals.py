"""Seals and verify on every kind of store: an intact trail passes, and each deletion, flipped
byte or insertion of an event or record is named; concurrent sealers store one seal."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from stricture_server.audit.events import Event, log_root
from stricture_server.audit.sealer import JITTER_SECONDS, Sealer
from stricture_server.audit.seals import seal_due, seal_name, seals_root
from stricture_server.audit.trail import AuditTrail
from stricture_server.audit.verify import verify_log
from stricture_server.runstore.records import normalize
from stricture_server.runstore.runs import RunStore
from stricture_server.storage import Storage
from stricture_server.storage.fs import FileStorage

from . import factory
from .commands import run_command
from .deliveries import HANG_SECONDS, ROOT, server_process
from .objectstore import admin_client, emulator, new_bucket, object_env, s3_storage

PREFIX = "stricture"
HOUR = 3_600_000
T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
FIRST = seal_name(int(T0.timestamp() * 1000))
SECOND = seal_name(int(T0.timestamp() * 1000) + HOUR)


@dataclass
class Store:
    """A store, the environment that opens it, and a way around create-only (the attacker's)."""

    storage: Storage
    env: dict[str, str]
    delete: Callable[[str], object]
    overwrite: Callable[[str, bytes], object]


def _fs(tmp_path: Path) -> Store:
    root = tmp_path / "data"
    return Store(
        FileStorage(root),
        {"STRICTURE_SERVER_DATA_DIR": str(root)},
        lambda key: (root / key).unlink(),
        lambda key, data: (root / key).write_bytes(data),
    )


def _s3(tmp_path: Path) -> Store:
    bucket = new_bucket()
    client = admin_client()
    return Store(
        s3_storage("s3", bucket, emulator()),
        object_env("s3", bucket, emulator()),
        lambda key: client.delete_object(Bucket=bucket, Key=key),
        lambda key, data: client.put_object(Bucket=bucket, Key=key, Body=data),
    )


STORES = {"fs": _fs, "s3": _s3}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A fresh store of each kind."""
    return STORES[request.param](tmp_path)


def ingest(store: Store, org: str, at: datetime, run_id: str) -> tuple[str, str]:
    """Store a run received at ``at`` and its ingest event, as the app does; both keys."""
    record = normalize(factory.envelope(organization=org, run_id=run_id), at)
    accepted = RunStore(store.storage, PREFIX).create(record, at)
    ms = int(at.timestamp() * 1000)
    event = Event(
        time_ms=ms,
        request_id=f"req-{run_id}",
        identity={"kind": "shared-token"},
        action="ingest",
        result="accepted",
        status=202,
        target={"organization": org, "project": "checkout", "service": "api", "run_id": run_id},
        digest=record.digest,
        record=accepted.key,
    )
    return AuditTrail(store.storage, PREFIX).write(event), accepted.key


def sealed_org(store: Store) -> tuple[str, list[str], list[str]]:
    """An org with three ingests over two hours, sealed; its name, event and record keys."""
    org = factory.unique("audited")
    made = [
        ingest(store, org, T0 + timedelta(minutes=minutes), f"run-{minutes}")
        for minutes in (5, 40, 70)
    ]
    stored = seal_due(store.storage, PREFIX, ms(T0 + timedelta(hours=2, minutes=2)), HOUR)
    assert stored == [seals_root(log_root(PREFIX, org)) + name for name in (FIRST, SECOND)]
    return org, [e for e, _ in made], [r for _, r in made]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def problems(store: Store, org: str) -> list[tuple[str, str, str]]:
    report = verify_log(store.storage, PREFIX, org)
    assert report["intact"] is not bool(report["problems"])
    return [(p["problem"], p["object"], p["key"]) for p in report["problems"]]


def test_an_intact_trail_verifies(store: Store) -> None:
    org, _, _ = sealed_org(store)
    report = verify_log(store.storage, PREFIX, org)
    assert report["intact"] is True
    assert (report["seals"], report["events_checked"], report["records_checked"]) == (2, 3, 3)
    assert report["head"]["seal"] == SECOND
    # Sealing again stores nothing: every closed period with events is sealed.
    assert seal_due(store.storage, PREFIX, ms(T0 + timedelta(hours=3)), HOUR) == []


def test_verify_names_a_deleted_event_and_record(store: Store) -> None:
    org, events, records = sealed_org(store)
    store.delete(events[0])
    store.delete(records[2])
    assert sorted(problems(store, org)) == [
        ("missing", "event", events[0]),
        ("missing", "record", records[2]),
    ]
    verified = run_command(store.env, "audit", "verify", "--organization", org)
    assert verified.returncode == 1, verified.stderr
    assert len(orjson.loads(verified.stdout)["problems"]) == 2


def test_verify_names_a_flipped_byte_in_an_event_and_a_record(store: Store) -> None:
    org, events, records = sealed_org(store)
    event = store.storage.read(events[1])
    store.overwrite(events[1], event.replace(b'"accepted"', b'"acceptee"'))
    record = store.storage.read(records[0])
    store.overwrite(records[0], record[:-2] + bytes([record[-2] ^ 1]) + record[-1:])
    assert sorted(problems(store, org)) == [
        ("altered", "event", events[1]),
        ("altered", "record", records[0]),
    ]


def test_verify_names_an_inserted_event_and_record(store: Store) -> None:
    org, _, _ = sealed_org(store)
    # Into the first sealed hour, after sealing: an event and a run nobody sealed.
    record = normalize(factory.envelope(organization=org, run_id="forged"), T0)
    forged_record = RunStore(store.storage, PREFIX).create(record, T0 + timedelta(minutes=9)).key
    forged_event = AuditTrail(store.storage, PREFIX).write(
        Event(
            ms(T0 + timedelta(minutes=9)),
            "forged",
            {"kind": "x"},
            "ingest",
            "accepted",
            202,
            target={"organization": org},
        )
    )
    assert sorted(problems(store, org)) == [
        ("inserted", "event", forged_event),
        ("inserted", "record", forged_record),
    ]


def test_verify_names_a_deleted_or_rewritten_seal(store: Store) -> None:
    org, events, records = sealed_org(store)
    seals = seals_root(log_root(PREFIX, org))
    first, head = seals + FIRST, seals + SECOND
    data = store.storage.read(first)
    store.overwrite(first, data.replace(b'"events":[', b'"events":[ '))
    assert problems(store, org) == [("altered", "seal", first)]
    store.delete(first)
    found = problems(store, org)
    assert found[0] == ("missing", "seal", first)
    # What it sealed is in no seal now.
    unsealed = [("inserted", "event", e) for e in events[:2]]
    unsealed += [("inserted", "record", r) for r in records[:2]]
    assert sorted(found[1:]) == sorted(unsealed)
    assert verify_log(store.storage, PREFIX, org)["head"]["seal"] == head.rsplit("/", 1)[1]


def test_a_late_event_is_sealed_with_the_next_period(store: Store) -> None:
    org, _, _ = sealed_org(store)
    late, record = ingest(store, org, T0 + timedelta(minutes=100), "late")  # 11:40 > 12:02
    report = verify_log(store.storage, PREFIX, org)
    assert report["intact"] is True
    assert report["unsealed"] == [late, record]
    stored = seal_due(store.storage, PREFIX, ms(T0 + timedelta(hours=3, minutes=2)), HOUR)
    assert len(stored) == 1  # the 12:00 period, which had no event of its own
    seal = orjson.loads(store.storage.read(stored[0]))
    assert seal["events"] == []
    assert [e["name"] for e in seal["late"]] == [late.rsplit("/", 1)[1]]
    assert len(seal["records"]) == 1
    report = verify_log(store.storage, PREFIX, org)
    assert (report["intact"], report["unsealed"], report["seals"]) == (True, [], 3)


def test_verify_checks_only_the_periods_asked_for(store: Store) -> None:
    org, events, _ = sealed_org(store)
    store.delete(events[2])  # in the second hour
    day = T0.date().isoformat()
    assert verify_log(store.storage, PREFIX, org, ms(T0), ms(T0) + HOUR - 1)["intact"] is True
    report = verify_log(store.storage, PREFIX, org)
    assert [(p["problem"], p["key"]) for p in report["problems"]] == [("missing", events[2])]
    assert day == "2026-03-01"


def test_processes_sealing_at_once_store_one_seal_per_period(store: Store) -> None:
    org = factory.unique("raced")
    now = datetime.now(UTC)
    for hours in (5, 4, 3):
        ingest(store, org, now - timedelta(hours=hours), f"run-{hours}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRICTURE_SERVER_")}
    env.update(store.env, STRICTURE_SERVER_LOG_LEVEL="warning")
    sealers = [
        subprocess.Popen(
            [sys.executable, "-m", "stricture_server", "audit", "seal"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [s.communicate(timeout=HANG_SECONDS)[0] for s in sealers]
    assert [s.returncode for s in sealers] == [0] * 4
    seals = list(store.storage.list(seals_root(log_root(PREFIX, org))))
    assert len(seals) == 3
    # Every seal was stored by exactly one of them.
    printed = [line for out in outputs for line in out.splitlines() if org in line]
    assert sorted(printed) == sorted(seals)
    verified = run_command(store.env, "audit", "verify", "--organization", org)
    assert verified.returncode == 0, verified.stderr
    assert orjson.loads(verified.stdout)["intact"] is True


def test_the_server_process_seals_in_the_background(tmp_path: Path) -> None:
    store = _fs(tmp_path)
    org = factory.unique("background")
    now = datetime.now(UTC)
    for hours in (3, 2):
        ingest(store, org, now - timedelta(hours=hours), f"run-{hours}")
    seals = seals_root(log_root(PREFIX, org))
    with server_process({**store.env, "STRICTURE_SERVER_LOG_LEVEL": "warning"}):
        # Each worker seals once at start, then at each period's end.
        deadline = time.monotonic() + HANG_SECONDS
        while len(list(store.storage.list(seals))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(list(store.storage.list(seals))) == 2
    assert verify_log(store.storage, PREFIX, org)["intact"] is True


def test_the_sealer_waits_for_the_next_period_plus_grace_and_jitter() -> None:
    now = T0.timestamp() + 600  # 10:10
    sealer = Sealer(FileStorage("unused"), PREFIX, 3600, clock=lambda: now)
    delays = {sealer.delay() for _ in range(50)}
    # Due at 11:01, 51 minutes on, plus up to 30 s of this worker's own delay.
    assert all(3060 <= d <= 3060 + JITTER_SECONDS for d in delays)
    assert len(delays) > 1
