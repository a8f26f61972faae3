"""End to end: the real ``stricture-server`` process on s3 and on mirror, with the store failing."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest

from stricture_server import Settings
from stricture_server.app import PARTIAL_HEADER, STORE_UNAVAILABLE
from stricture_server.runstore.names import complete_key, names_root
from stricture_server.storage.fs import FileStorage

from . import factory
from .deliveries import HANG_SECONDS, http_send, kill_hard, server_process
from .objectstore import FaultProxy, fault_proxy, new_bucket, object_env, stored

pytestmark = pytest.mark.slow

TOKEN = "object-process-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {**AUTH, "Content-Type": "application/json"}


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    """A fault proxy in front of moto."""
    with fault_proxy() as running:
        yield running


def server_env(driver: str, bucket: str, proxy: FaultProxy, data_dir: Path) -> dict[str, str]:
    """The server's variables: ``driver`` on ``bucket`` through the proxy."""
    return object_env(
        driver,
        bucket,
        proxy.url,
        STRICTURE_SERVER_DATA_DIR=str(data_dir),
        STRICTURE_SERVER_INGEST_TOKEN=TOKEN,
        STRICTURE_SERVER_MIRROR_TARGET="s3",
        STRICTURE_SERVER_MIRROR_RETRY_MAX_SECONDS="1",
        STRICTURE_SERVER_LOG_LEVEL="warning",
    )


def ingest(port: int, document: dict[str, object]) -> tuple[int, dict[str, str], bytes]:
    """POST one envelope; status, headers and body."""
    reply = http_send(port, "POST", "/v1/artifacts", JSON, orjson.dumps(document))
    return reply.status, dict(reply.headers), reply.body


def test_s3_process_stores_reads_and_survives_an_outage(tmp_path: Path, proxy: FaultProxy) -> None:
    bucket = new_bucket()
    with server_process(server_env("s3", bucket, proxy, tmp_path)) as (port, _):
        document = factory.envelope(run_id="first", generated_at="2026-03-01T10:00:00Z")
        status, headers, _ = ingest(port, document)
        assert status == 202
        read = http_send(port, "GET", headers["Location"], AUTH)
        assert read.status == 200
        key = (
            f"stricture/v1/org={document['organization']}/project=checkout/service=api/"
            "date=2026-03-01/run=first/payload.json"
        )
        assert stored(bucket)[key] == read.body
        before = stored(bucket)

        # A refused connection ends each attempt at once; how attempts bound an outage is
        # checked without a clock in test_s3.py.
        proxy.down()
        down = factory.envelope(run_id="during-outage")
        status, headers, body = ingest(port, down)
        assert status == 503
        assert int(headers["Retry-After"]) > 0
        assert orjson.loads(body) == {"error": "storage is unavailable; retry later"}
        assert http_send(port, "GET", "/healthz", {}).status == 200

        proxy.up()
        assert stored(bucket) == before  # nothing was acknowledged, nothing was written
        status, headers, _ = ingest(port, down)
        assert status == 202
        assert http_send(port, "GET", headers["Location"], AUTH).status == 200
        none = f"/v1/artifacts/{down['organization']}/checkout/api/none"
        assert http_send(port, "GET", none, AUTH).status == 404


def test_mirror_acknowledges_while_the_store_is_down_and_delivers_after_kill_9(
    tmp_path: Path, proxy: FaultProxy
) -> None:
    bucket = new_bucket()
    env = server_env("mirror", bucket, proxy, tmp_path)
    proxy.down()
    with server_process(env) as (port, process):
        for n in range(100):
            assert ingest(port, factory.envelope(run_id=f"run-{n:03d}"))[0] == 202
        status = http_send(port, "GET", "/v1/replication", AUTH).json()
        assert status["pending"] >= 200  # claim and record of each run, at least
        assert status["replicated"] == 0
        kill_hard(process)
    assert stored(bucket) == {}

    local = FileStorage(tmp_path)
    expected = {key: local.read(key) for key in local.list("")}
    assert sum(key.endswith("/payload.json") for key in expected) == 100
    with server_process(env) as (port, _):
        proxy.up()
        done = (0, 0, len(expected))
        deadline = time.monotonic() + HANG_SECONDS
        while time.monotonic() < deadline:
            status = http_send(port, "GET", "/v1/replication", AUTH).json()
            if (status["pending"], status["failed"], status["replicated"]) == done:
                break
            time.sleep(0.2)
        assert (status["pending"], status["failed"], status["replicated"]) == done, (
            f"replication not done after {HANG_SECONDS} s: {status}"
        )
        assert stored(bucket) == expected


def test_a_silent_store_answers_503_fast_and_healthz_does_not_wait(
    tmp_path: Path, proxy: FaultProxy
) -> None:
    env = server_env("s3", new_bucket(), proxy, tmp_path)
    env.update(
        STRICTURE_SERVER_WORKERS="1",
        STRICTURE_SERVER_OBJECT_READ_TIMEOUT_SECONDS="50",
        STRICTURE_SERVER_OBJECT_DEADLINE_SECONDS="30",
        STRICTURE_SERVER_OBJECT_MAX_ATTEMPTS="1",
    )
    with server_process(env) as (port, _), ThreadPoolExecutor(4) as pool:
        proxy.mode = "hang"
        proxy.seen.clear()
        held = [pool.submit(ingest, port, factory.envelope(run_id=f"held-{n}")) for n in range(2)]
        while len(proxy.seen) < 2:  # both request threads of the worker wait on the store
            time.sleep(0.05)
        assert http_send(port, "GET", "/healthz", {}).status == 200
        assert not any(future.done() for future in held)  # answered while they wait
        proxy.released.set()
        for future in held:
            status, headers, body = future.result()
            assert status == 503
            assert int(headers["Retry-After"]) > 0
            assert orjson.loads(body) == {"error": "storage is unavailable; retry later"}
        # A third failure in a row starts the cool-down: then the store is not asked at all.
        assert ingest(port, factory.envelope(run_id="third"))[0] == 503
        asked = len(proxy.seen)
        status, headers, _ = ingest(port, factory.envelope(run_id="cooling"))
        assert (status, len(proxy.seen)) == (503, asked)
        assert int(headers["Retry-After"]) > 0


def _reads(organization: str, sha: str) -> dict[str, tuple[int, str | None, str]]:
    """Every read the local copy can answer: path, then the status, the partial header and a
    part of the body expected.

    A run found by id locally is the whole truth (a record never changes); every listing and
    every miss may leave out what only the bucket holds, and says so.
    """
    service = f"/v1/artifacts/{organization}/checkout/api"
    run = f'"location":"{service}/local"'
    partial = STORE_UNAVAILABLE
    return {
        f"{service}/local": (200, None, '"run_id":"local"'),
        f"{service}/latest": (200, partial, '"run_id":"local"'),
        f"{service}/unknown": (404, partial, "no record"),
        service: (200, partial, run),
        f"{service}?from=2026-02-01&to=2026-02-01": (200, partial, run),
        f"{service}?commit_sha={sha[:10]}": (200, partial, run),
        f"/v1/changes/{organization}/checkout/api": (200, partial, run),
        f"/v1/changes/{organization}": (200, partial, run),
        f"/v1/artifacts/{organization}/checkout": (200, partial, run),
        f"/v1/artifacts/{organization}": (200, partial, '"project":"checkout"'),
        "/v1/artifacts": (200, partial, f'"organization":"{organization}"'),
    }


@pytest.mark.parametrize("outage", ["refused", "silent"])
def test_mirror_answers_reads_from_local_disk_while_the_store_is_down(
    tmp_path: Path, proxy: FaultProxy, outage: str
) -> None:
    env = server_env("mirror", new_bucket(), proxy, tmp_path)
    # The store never answers here until the end: a short deadline only ends each wait sooner.
    env.update(
        STRICTURE_SERVER_OBJECT_DEADLINE_SECONDS="1", STRICTURE_SERVER_OBJECT_MAX_ATTEMPTS="1"
    )
    if outage == "refused":
        proxy.down()
    with server_process(env) as (port, _):
        if outage == "silent":
            proxy.mode = "hang"
        sha = "0123456789abcdef0123456789abcdef01234567"
        document = factory.envelope(
            run_id="local", commit_sha=sha, generated_at="2026-02-01T12:00:00Z", diff=factory.diff()
        )
        assert ingest(port, document)[0] == 202
        organization = str(document["organization"])
        reads = _reads(organization, sha)
        for _ in range(3):  # before and during the cool-down alike
            for path, (status, partial, part) in reads.items():
                reply = http_send(port, "GET", path, AUTH)
                assert (reply.status, reply.headers.get(PARTIAL_HEADER)) == (status, partial), path
                assert part in reply.body.decode(), path
        # Whether the bucket held older index objects could not be asked: never marked.
        prefix = Settings.from_env(env).object_prefix
        assert complete_key(prefix) not in set(FileStorage(tmp_path).list(names_root(prefix)))
        proxy.up()
        proxy.released.set()
        # Back after the cool-down: the same answers, merged with the bucket, unmarked.
        deadline = time.monotonic() + HANG_SECONDS
        listing = http_send(port, "GET", f"/v1/artifacts/{organization}/checkout/api", AUTH)
        while PARTIAL_HEADER in listing.headers and time.monotonic() < deadline:
            time.sleep(0.1)
            listing = http_send(port, "GET", f"/v1/artifacts/{organization}/checkout/api", AUTH)
        assert (listing.status, listing.headers.get(PARTIAL_HEADER)) == (200, None)
        assert [run["run_id"] for run in listing.json()["runs"]] == ["local"]


def test_r2_racers_and_replays_get_the_answers_s3_gives(tmp_path: Path, proxy: FaultProxy) -> None:
    """R2 refuses a second write on a key within a second (429) and never sends 100 Continue."""
    env = server_env("r2", new_bucket(), proxy, tmp_path)
    with server_process(env) as (port, _), ThreadPoolExecutor(20) as pool:
        proxy.mode, proxy.continues = "r2", False
        first = factory.envelope(run_id="raced")
        racers = [{**first, "artifact": factory.artifact(n)} for n in range(1, 21)]
        statuses = [reply[0] for reply in pool.map(lambda d: ingest(port, d), racers)]
        assert sorted(statuses) == [202] + [409] * 19
        winner = racers[statuses.index(202)]
        replays = [reply[0] for reply in pool.map(lambda _: ingest(port, winner), range(10))]
        assert replays == [202] * 10
        assert proxy.throttled > 0  # the limit was hit, and answered as S3 would be
        assert not any("expect" in headers for _, _, headers in proxy.seen)


_OWN_GUNICORN = [
    sys.executable,
    "-m",
    "gunicorn",
    "-k",
    "stricture_server.serving.worker.DeadlineWorker",
    "-w",
    "2",
    "-b",
    "127.0.0.1:{port}",
]
LAUNCHES: dict[str, list[list[str] | None]] = {
    "serve": [None],
    "wsgi": [[*_OWN_GUNICORN, "stricture_server.wsgi:app"]],
    "wsgi --preload": [[*_OWN_GUNICORN, "--preload", "stricture_server.wsgi:app"]],
    "two processes on one data dir": [None, None],
}
"""Every way the docs offer to run the server: the processes of one launch share a data dir."""

RUNS = 12


def _replication(port: int) -> dict[str, Any]:
    reply = http_send(port, "GET", "/v1/replication", AUTH)
    assert reply.status == 200
    status: dict[str, Any] = reply.json()
    return status


def _drained(port: int, replicated: int) -> dict[str, Any]:
    """The replication status once nothing is pending and ``replicated`` objects were copied."""
    deadline = time.monotonic() + 120
    status = _replication(port)
    while time.monotonic() < deadline:
        status = _replication(port)
        if (status["pending"], status["failed"], status["replicated"]) == (0, 0, replicated):
            break
        time.sleep(0.2)
    assert (status["pending"], status["failed"], status["replicated"]) == (0, 0, replicated)
    return status


@pytest.mark.parametrize("launch", sorted(LAUNCHES))
def test_mirror_delivers_every_record_however_it_is_run(
    tmp_path: Path, proxy: FaultProxy, launch: str
) -> None:
    """kill -9 with entries pending, a restart while the store is down, then the store back."""
    bucket = new_bucket()
    env = server_env("mirror", bucket, proxy, tmp_path)
    commands = LAUNCHES[launch]
    sent: list[dict[str, Any]] = []
    proxy.down()
    for phase in ("before-kill", "after-restart"):
        with ExitStack() as stack:
            servers = [stack.enter_context(server_process(env, c)) for c in commands]
            for n in range(RUNS):
                document = factory.envelope(run_id=f"{phase}-{n}")
                assert ingest(servers[n % len(servers)][0], document)[0] == 202
                sent.append(document)
            if phase == "before-kill":
                for _, process in servers:
                    kill_hard(process)
                assert stored(bucket) == {}
                continue
            local = FileStorage(tmp_path)
            expected = {key: local.read(key) for key in local.list("")}
            assert sum(key.endswith("/payload.json") for key in expected) == 2 * RUNS
            proxy.up()
            port = servers[-1][0]
            _drained(port, len(expected))
            assert stored(bucket) == expected
            # Identical replays queue their keys again: found in the bucket, not counted again;
            # only their audit events are new objects.
            for document in sent[:5]:
                assert ingest(servers[0][0], document)[0] == 202
            expected = {key: local.read(key) for key in local.list("")}
            status = _drained(port, len(expected))
            assert stored(bucket) == expected
            assert status["behind"] is False
            assert status["recovered_at"] > status["last_error_at"]
