"""The writes of one ingest sent at once: all end before the answer, the first failure wins."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import orjson
import pytest
from werkzeug.test import Client

from stricture_server.app import App
from stricture_server.audit.events import audit_root
from stricture_server.auth import NoAuth
from stricture_server.errors import StorageUnavailable
from stricture_server.ingest.validation import EnvelopeValidator
from stricture_server.ingest.writes import Writes
from stricture_server.runstore.runs import RunStore
from stricture_server.settings import Settings
from stricture_server.storage import Storage
from stricture_server.storage.fs import FileStorage

from . import factory
from .deliveries import HANG_SECONDS
from .objectstore import emulator, new_bucket, object_env, s3_storage
from .test_blast_store import Watched
from .test_writes_fs import Gated, another_request


def test_concurrent_calls_run_at_once() -> None:
    # Each call waits for the other: one after the other, the barrier would break.
    barrier = threading.Barrier(3, timeout=HANG_SECONDS)
    writes = Writes(concurrent=True)
    assert sorted(writes.all([barrier.wait, barrier.wait, barrier.wait])) == [0, 1, 2]


def test_results_come_in_call_order() -> None:
    writes = Writes(concurrent=True)
    assert writes.all([lambda: "a", lambda: "b", lambda: "c"]) == ["a", "b", "c"]


def test_a_failure_is_raised_after_every_call_ended() -> None:
    failed = threading.Event()
    ended: list[str] = []

    def fails() -> None:
        failed.set()
        raise StorageUnavailable("the record's create failed")

    def slow() -> None:
        # Still writing when the failure is known: the answer must wait for it.
        assert failed.wait(HANG_SECONDS)
        ended.append("slow")

    writes = Writes(concurrent=True)
    with pytest.raises(StorageUnavailable, match="record"):
        writes.all([slow, fails])
    assert ended == ["slow"]


def test_the_first_failure_in_call_order_is_raised() -> None:
    def failing(reason: str) -> Callable[[], None]:
        def call() -> None:
            raise StorageUnavailable(reason)

        return call

    writes = Writes(concurrent=True)
    with pytest.raises(StorageUnavailable, match="first"):
        writes.all([lambda: None, failing("first"), failing("second")])


def test_sequential_writes_stop_at_the_first_failure() -> None:
    done: list[int] = []

    def fails() -> None:
        raise StorageUnavailable("down")

    with pytest.raises(StorageUnavailable):
        Writes(concurrent=False).all([lambda: done.append(1), fails, lambda: done.append(3)])
    assert done == [1]


def test_a_forked_child_makes_its_own_pool() -> None:
    writes = Writes(concurrent=True)
    assert writes.all([lambda: 1, lambda: 2]) == [1, 2]  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:
        # The parent's pool threads do not exist here: using its pool would hang.
        code = 0 if writes.all([lambda: 1, lambda: 2]) == [1, 2] else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize(
    ("driver", "busy"), [("fs", False), ("fs", True), ("s3", False)], ids=["fs", "fs-busy", "s3"]
)
def test_a_failed_write_is_not_acknowledged_and_a_replay_completes_the_run(
    tmp_path: Path, driver: str, busy: bool
) -> None:
    # The s3 setting makes the writes concurrent, as fs does for a request alone in its
    # process; the store under it is a directory. ``busy``: another request is in flight.
    settings = Settings(storage_driver=driver, log_level="error")
    validator = EnvelopeValidator(strict=True, max_errors=10)
    outage = Watched(FileStorage(tmp_path), refused="/payload.json")
    document = factory.envelope(run_id="r1")

    def post(storage: Storage) -> int:
        gated = Gated(storage)
        app = App(settings, RunStore(gated, settings.object_prefix), NoAuth(), validator)
        with another_request(Client(app), gated) if busy else nullcontext():
            return Client(app).post("/v1/artifacts", json=document).status_code

    assert post(outage) == 503
    assert not any(key.endswith("/payload.json") for key in outage.created)
    # At once, the audit event went with the record: it stands, and says what the claim
    # decided. One after the other, the writes stopped at the record, before the event.
    results = [(e["result"], e["status"]) for e in _events(outage, settings.object_prefix)]
    first = [] if busy else [("accepted", 202)]
    assert results == first
    again = Watched(FileStorage(tmp_path))
    assert post(again) == 202
    # Only what the first attempt did not store: at once the others were written with the
    # record; one after the other, nothing after the record was.
    created = [
        "feed" if "/feed/" in key else "org entry" if "/compact/" in key else key.rpartition("/")[2]
        for key in again.created
    ]
    rest = ["index entry", "org entry", "feed", "lineage-graph.json"] if busy else []
    assert [name if "!" not in name else "index entry" for name in created] == [
        "payload.json",
        *rest,
    ]
    results = [(e["result"], e["status"]) for e in _events(again, settings.object_prefix)]
    assert sorted(results) == sorted([*first, ("replayed", 202)])
    app = App(
        settings, RunStore(FileStorage(tmp_path), settings.object_prefix), NoAuth(), validator
    )
    read = Client(app).get(f"/v1/artifacts/{document['organization']}/checkout/api/r1")
    assert read.status_code == 200


class Meeting:
    """A store whose record create and audit event create each wait for the other."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        # Sent one after the other, the first of the two waits for the second in vain.
        self.barrier = threading.Barrier(2, timeout=HANG_SECONDS)

    def create(self, key: str, data: bytes) -> None:
        if key.endswith("/payload.json") or ("/audit/v1/org=" in key and "/events/" in key):
            self.barrier.wait()
        self.inner.create(key, data)

    def read(self, key: str) -> bytes:
        return self.inner.read(key)

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        return self.inner.list(prefix, start_after)


def test_the_audit_event_is_sent_with_the_record_on_s3() -> None:
    env = object_env("s3", new_bucket(), emulator(), STRICTURE_SERVER_LOG_LEVEL="error")
    settings = Settings.from_env(env)
    storage = Meeting(s3_storage("s3", settings.object_bucket, emulator()))
    validator = EnvelopeValidator(strict=True, max_errors=10)
    app = App(settings, RunStore(storage, settings.object_prefix), NoAuth(), validator)
    response = Client(app).post("/v1/artifacts", json=factory.envelope(run_id="r1"))
    assert response.status_code == 202
    events = _events(storage.inner, settings.object_prefix)
    assert [(e["result"], e["status"]) for e in events] == [("accepted", 202)]


def _events(storage: Storage, prefix: str) -> list[dict[str, Any]]:
    """Every audit event of every organization's log, as stored."""
    keys = [key for key in storage.list(audit_root(prefix) + "org=") if "/events/" in key]
    return [orjson.loads(storage.read(key)) for key in keys]
