"""The mirror driver beyond the contract: outbox, idempotence, conflicts, status, the CLI."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from werkzeug.test import Client

from stricture_server import Settings, create_app
from stricture_server.errors import ObjectExists
from stricture_server.runstore.entries import Summary
from stricture_server.runstore.index import Index, RunFacts, ServiceRef
from stricture_server.runstore.names import complete_key, entry_key
from stricture_server.storage.mirror import MirrorStorage, open_mirror_storage

from .deliveries import HANG_SECONDS, ROOT
from .objectstore import FaultProxy, admin_client, fault_proxy, new_bucket, object_env, stored


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    """A fault proxy in front of moto."""
    with fault_proxy() as running:
        yield running


class Collect(logging.Handler):
    """Keeps the log records it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep it."""
        self.records.append(record)


def mirror_env(data_dir: Path, bucket: str, endpoint: str) -> dict[str, str]:
    """Variables of a mirror to ``bucket`` through ``endpoint``, fast retries."""
    return object_env(
        "mirror",
        bucket,
        endpoint,
        STRICTURE_SERVER_MIRROR_TARGET="s3",
        STRICTURE_SERVER_DATA_DIR=str(data_dir),
        STRICTURE_SERVER_MIRROR_RETRY_MAX_SECONDS="1",
        STRICTURE_SERVER_LOG_LEVEL="info",
    )


def mirror(data_dir: Path, bucket: str, endpoint: str) -> MirrorStorage:
    """The mirror driver as the server opens it."""
    return open_mirror_storage(Settings.from_env(mirror_env(data_dir, bucket, endpoint)))


def test_outage_keeps_entries_pending_until_the_store_is_back(
    tmp_path: Path, proxy: FaultProxy
) -> None:
    bucket = new_bucket()
    store = mirror(tmp_path, bucket, proxy.url)
    proxy.down()
    store.create("p/a.json", b"a")
    store.create("p/b.json", b"b")
    assert store.read("p/a.json") == b"a"  # served locally while the store is down
    result = store.replicator.drain()
    assert result.unavailable
    status = store.replication_status()
    assert status["pending"] == 2
    assert status["replicated"] == 0
    assert status["oldest_pending_age_seconds"] >= 0
    assert "unreachable" in status["last_error"]
    proxy.up()
    assert store.replicator.drain().replicated == 2
    assert stored(bucket) == {"p/a.json": b"a", "p/b.json": b"b"}
    assert store.replication_status()["pending"] == 0
    assert store.replication_status()["replicated"] == 2


def test_a_copy_already_in_the_bucket_is_done_and_not_counted_twice(tmp_path: Path) -> None:
    bucket = new_bucket()
    proxy_less = mirror(tmp_path, bucket, admin_client().meta.endpoint_url)
    proxy_less.create("p/a.json", b"same")
    assert proxy_less.replicator.drain().replicated == 1
    for _ in range(3):  # identical replays queue the key again; it is already there
        with pytest.raises(ObjectExists):
            proxy_less.create("p/a.json", b"same")
        result = proxy_less.replicator.drain()
        assert (result.replicated, result.present, result.failed) == (0, 1, 0)
    status = proxy_less.replication_status()
    assert (status["pending"], status["replicated"]) == (0, 1)


def test_different_bytes_in_the_bucket_are_a_loud_conflict(tmp_path: Path) -> None:
    bucket = new_bucket()
    store = mirror(tmp_path, bucket, admin_client().meta.endpoint_url)
    admin_client().put_object(Bucket=bucket, Key="p/a.json", Body=b"theirs")
    store.create("p/a.json", b"ours")
    handler = Collect()
    seen = handler.records
    logging.getLogger("stricture_server.replication").addHandler(handler)
    try:
        result = store.replicator.drain()
    finally:
        logging.getLogger("stricture_server.replication").removeHandler(handler)
    assert (result.replicated, result.failed) == (0, 1)
    assert [r.levelname for r in seen] == ["ERROR"]
    status = store.replication_status()
    assert (status["pending"], status["failed"]) == (0, 1)
    assert "different bytes" in status["last_error"]
    assert stored(bucket) == {"p/a.json": b"theirs"}  # nothing remote is changed
    assert store.read("p/a.json") == b"ours"
    failed = list((tmp_path / ".outbox" / "failed").iterdir())
    assert orjson.loads(failed[0].read_bytes())["key"] == "p/a.json"


def test_a_local_write_whose_entry_was_lost_is_queued_again(tmp_path: Path) -> None:
    bucket = new_bucket()
    store = mirror(tmp_path, bucket, admin_client().meta.endpoint_url)
    store.local.create("p/a.json", b"a")  # as if killed between the write and its entry
    assert store.replication_status()["pending"] == 0
    with pytest.raises(ObjectExists):
        store.create("p/a.json", b"a")
    assert store.replicator.drain().replicated == 1
    assert stored(bucket) == {"p/a.json": b"a"}


def test_a_missing_local_object_fails_its_entry(tmp_path: Path) -> None:
    store = mirror(tmp_path, new_bucket(), admin_client().meta.endpoint_url)
    store.replicator.outbox.add("p/gone.json")
    assert store.replicator.drain().failed == 1
    assert store.replication_status()["failed"] == 1


def test_an_empty_data_dir_reads_what_the_bucket_holds(tmp_path: Path) -> None:
    bucket = new_bucket()
    endpoint = admin_client().meta.endpoint_url
    first = mirror(tmp_path / "one", bucket, endpoint)
    first.create("p/a.json", b"a")
    first.replicator.drain()
    second = mirror(tmp_path / "two", bucket, endpoint)
    second.create("p/b.json", b"b")
    assert second.read("p/a.json") == b"a"
    assert list(second.list("p/")) == ["p/a.json", "p/b.json"]


def test_processes_draining_one_outbox_upload_each_object_once(
    tmp_path: Path, proxy: FaultProxy
) -> None:
    bucket = new_bucket()
    store = mirror(tmp_path, bucket, proxy.url)
    keys = [f"p/run-{n:03d}.json" for n in range(60)]
    for key in keys:
        store.create(key, key.encode())
    env = {**os.environ, **mirror_env(tmp_path, bucket, proxy.url)}
    env["STRICTURE_SERVER_LOG_LEVEL"] = "error"
    command = [sys.executable, "-m", "stricture_server", "replicate"]
    runs = [subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE) for _ in range(4)]
    outputs = [run.communicate(timeout=HANG_SECONDS)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0]
    assert sum(orjson.loads(out)["replicated_now"] for out in outputs) == len(keys)
    assert stored(bucket) == {key: key.encode() for key in keys}
    assert sorted(path for method, path in proxy.requests if method == "PUT") == sorted(
        f"/{bucket}/{key}" for key in keys
    )


def test_replicate_command_exit_codes(tmp_path: Path, proxy: FaultProxy) -> None:
    bucket = new_bucket()
    store = mirror(tmp_path, bucket, proxy.url)
    store.create("p/a.json", b"a")
    env = {**os.environ, **mirror_env(tmp_path, bucket, proxy.url)}
    command = [sys.executable, "-m", "stricture_server", "replicate"]

    def replicate(extra: dict[str, str] | None = None) -> tuple[int, str]:
        done = subprocess.run(
            command,
            env={**env, **(extra or {})},
            cwd=ROOT,
            capture_output=True,
            timeout=HANG_SECONDS,
            check=False,
        )
        return done.returncode, done.stdout.decode() + done.stderr.decode()

    proxy.down()
    code, output = replicate()
    assert code == 1
    assert '"pending":1' in output
    proxy.up()
    assert replicate()[0] == 0
    assert stored(bucket) == {"p/a.json": b"a"}
    code, output = replicate({"STRICTURE_SERVER_STORAGE_DRIVER": "fs"})
    assert code == 2
    assert "replicate needs the mirror driver" in output


def test_background_replication_and_status_endpoint(tmp_path: Path) -> None:
    bucket = new_bucket()
    env = mirror_env(tmp_path, bucket, admin_client().meta.endpoint_url)
    env["STRICTURE_SERVER_INGEST_TOKEN"] = "status-token"
    app = create_app(Settings.from_env(env))
    assert isinstance(app.runs.storage, MirrorStorage)
    try:
        client = Client(app)
        app.runs.storage.create("p/a.json", b"a")
        deadline = time.monotonic() + HANG_SECONDS
        while stored(bucket) != {"p/a.json": b"a"} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stored(bucket) == {"p/a.json": b"a"}
        reply = client.get("/v1/replication", headers={"Authorization": "Bearer status-token"})
        assert reply.status_code == 200
        status = reply.get_json()
        assert (status["pending"], status["replicated"], status["failed"]) == (0, 1, 0)
        assert status["oldest_pending_age_seconds"] is None
        # Last: a refused request leaves an audit event, which the mirror replicates too.
        assert client.get("/v1/replication").status_code == 401
    finally:
        app.runs.storage.stop_replication()


def test_status_endpoint_is_404_without_a_mirror(tmp_path: Path) -> None:
    app = create_app(Settings.from_env({"STRICTURE_SERVER_DATA_DIR": str(tmp_path)}))
    assert Client(app).get("/v1/replication").status_code == 404


def test_the_log_says_when_replication_falls_behind_and_recovers(
    tmp_path: Path, proxy: FaultProxy
) -> None:
    bucket = new_bucket()
    store = mirror(tmp_path, bucket, proxy.url)
    handler = Collect()
    logger = logging.getLogger("stricture_server.replication")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    proxy.down()
    store.start_replication()
    try:
        store.create("p/a.json", b"a")

        def messages() -> list[str]:
            return [r.getMessage() for r in handler.records]

        deadline = time.monotonic() + HANG_SECONDS
        while "replication is behind" not in messages() and time.monotonic() < deadline:
            time.sleep(0.05)
        proxy.up()
        while "replication recovered" not in messages() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert messages() == ["replication is behind", "replication recovered"]
        assert stored(bucket) == {"p/a.json": b"a"}
    finally:
        store.stop_replication()
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_workers_on_one_data_dir_log_behind_and_recovered_once(
    tmp_path: Path, proxy: FaultProxy
) -> None:
    bucket = new_bucket()
    # Two stores on one data directory: two gunicorn workers, each with its replication thread.
    workers = [mirror(tmp_path, bucket, proxy.url) for _ in range(2)]
    handler = Collect()
    logger = logging.getLogger("stricture_server.replication")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    proxy.mode = "error"
    for worker in workers:
        worker.start_replication()
    try:
        for number, worker in enumerate(workers):
            worker.create(f"p/{number}.json", b"x")

        def messages() -> list[str]:
            return [r.getMessage() for r in handler.records]

        def puts() -> int:
            return sum(1 for method, _ in proxy.requests if method == "PUT")

        deadline = time.monotonic() + 60
        # Several failed passes: both workers have met the outage, each woken by its own write.
        while puts() < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        proxy.up()
        while len(stored(bucket)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        while "replication recovered" not in messages() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for worker in workers:
            worker.stop_replication()
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert puts() >= 8
    assert stored(bucket) == {"p/0.json": b"x", "p/1.json": b"x"}
    assert messages() == ["replication is behind", "replication recovered"]


def test_names_are_entered_locally_while_the_store_is_away(
    tmp_path: Path, proxy: FaultProxy
) -> None:
    store = mirror(tmp_path, new_bucket(), proxy.url)
    proxy.down()
    index = Index(store, "p")
    summary = Summary("r1", 1, 1, False, None, None)
    # The organization, project and service, then the run's timeline and organization feed
    # entries.
    assert index.add(RunFacts(ServiceRef("acme", "checkout", "api"), summary, ())) == 5
    local = list(store.local.list("p/index/v1/names/"))
    assert local == [
        entry_key("p", ("acme",)),
        entry_key("p", ("acme", "checkout")),
        entry_key("p", ("acme", "checkout", "api")),
    ]
    # Whether the store held older index objects could not be asked: it is not marked.
    assert complete_key("p") not in local
