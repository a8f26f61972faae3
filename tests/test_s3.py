"""The s3/r2 driver beyond the contract: conflicts, outages, paging, requests per ingest."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from werkzeug.test import Client

from stricture_server import Settings, create_app
from stricture_server.errors import StorageUnavailable
from stricture_server.storage.s3 import CONFLICT_ATTEMPTS, S3Storage

from . import factory
from .objectstore import (
    SHORT_READ_TIMEOUT,
    FaultProxy,
    admin_client,
    fault_proxy,
    moto,
    new_bucket,
    object_env,
)
from .objectstore import s3_storage as make_storage


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    """A fault proxy in front of moto."""
    with fault_proxy() as running:
        yield running


@pytest.fixture
def behind_proxy(proxy: FaultProxy) -> S3Storage:
    """The s3 driver on a fresh bucket, reached through the proxy."""
    return make_storage("s3", new_bucket(), proxy.url)


def sent(storage: S3Storage) -> list[str]:
    """Records every request the driver's client sends, as ``"<operation> <key>"``."""
    operations: list[str] = []

    def note(model: Any, params: dict[str, Any], **_: Any) -> None:
        operations.append(f"{model.name} {params.get('Key', '')}".strip())

    # before-parameter-build fires once per operation; before-send once per HTTP attempt.
    storage.client.meta.events.register("before-parameter-build.s3", note)
    storage.client.meta.events.register("before-send.s3", lambda **_: operations.append("send"))
    return operations


def test_conditional_write_conflict_is_retried(proxy: FaultProxy, behind_proxy: S3Storage) -> None:
    proxy.mode, proxy.conflicts = "conflict", 2
    behind_proxy.create("p/k.json", b"data")
    assert behind_proxy.read("p/k.json") == b"data"
    assert [m for m, _ in proxy.requests].count("PUT") == 3


def test_endless_conflicts_end_as_unavailable(proxy: FaultProxy, behind_proxy: S3Storage) -> None:
    proxy.mode, proxy.conflicts = "conflict", 1000
    with pytest.raises(StorageUnavailable, match="conflicted"):
        behind_proxy.create("p/k.json", b"data")
    assert [m for m, _ in proxy.requests].count("PUT") == CONFLICT_ATTEMPTS


@pytest.mark.parametrize("mode", ["down", "error", "hang"])
def test_failing_store_is_unavailable_within_the_bound(proxy: FaultProxy, mode: str) -> None:
    """Each operation ends as StorageUnavailable after the configured attempts, no more.

    The bound (attempts x (connect + read) + backoff, docs/storage.md) is checked through what
    ends each attempt, not with a clock: a refused connection, a 500, or the read timeout.
    """
    bucket = new_bucket()
    admin_client().put_object(Bucket=bucket, Key="p/there.json", Body=b"x")
    storage = make_storage("s3", bucket, proxy.url)
    # Only a hang needs the short read timeout, and only this client ever meets the hang.
    failing = (
        make_storage("s3", bucket, proxy.url, **SHORT_READ_TIMEOUT) if mode == "hang" else storage
    )
    if mode == "down":
        proxy.down()
    else:
        proxy.mode = mode
    for operation in (
        lambda: failing.create("p/k.json", b"data"),
        lambda: failing.read("p/there.json"),
        lambda: list(failing.list("p/")),
    ):
        proxy.requests.clear()
        with pytest.raises(StorageUnavailable) as caught:
            operation()
        assert caught.value.retry_after > 0
        assert len(proxy.requests) == (0 if mode == "down" else 2)  # OBJECT_MAX_ATTEMPTS
        if mode == "hang":
            assert "Read timeout" in str(caught.value)
    proxy.released.set()
    proxy.up()
    storage.create("p/k.json", b"data")
    assert storage.read("p/k.json") == b"data"


def test_server_errors_are_retried_within_the_budget(
    proxy: FaultProxy, behind_proxy: S3Storage
) -> None:
    proxy.mode = "error"
    with pytest.raises(StorageUnavailable, match="500"):
        behind_proxy.read("p/k.json")
    assert len(proxy.requests) == 2  # STRICTURE_SERVER_OBJECT_MAX_ATTEMPTS in object_env


def test_listing_is_paged_by_1000_and_lazy() -> None:
    bucket = new_bucket()
    admin = admin_client()
    keys = [f"p/run-{n:05d}.json" for n in range(1001)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: admin.put_object(Bucket=bucket, Key=key, Body=b"{}"), keys))
    admin.put_object(Bucket=bucket, Key="q/other.json", Body=b"{}")
    storage = make_storage("s3", bucket, moto())
    operations = sent(storage)
    assert list(storage.list("p/")) == keys
    assert operations.count("ListObjectsV2") == 2
    operations.clear()
    first = storage.list("p/", start_after="p/run-00500.json")
    assert next(first) == "p/run-00501.json"
    assert operations.count("ListObjectsV2") == 1


def test_objects_carry_their_sha256() -> None:
    bucket = new_bucket()
    make_storage("r2", bucket, moto()).create("p/k.json", b"data")
    head = admin_client().head_object(Bucket=bucket, Key="p/k.json")
    assert head["Metadata"]["sha256"] == (
        "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7"
    )


def test_requests_per_ingest() -> None:
    """Claim and record cost one request each; the read API's index adds one per fact."""
    env = object_env("s3", new_bucket(), moto(), STRICTURE_SERVER_LOG_LEVEL="error")
    app = create_app(Settings.from_env(env))
    assert isinstance(app.runs.storage, S3Storage)
    operations = sent(app.runs.storage)
    client = Client(app)
    document = factory.envelope(run_id="r-1")
    headers = {"Content-Type": "application/json"}

    def count(method: str, path: str, data: bytes = b"") -> tuple[int, list[str], int]:
        operations.clear()
        status = client.open(path, method=method, data=data, headers=headers).status_code
        calls = [op.split(" ")[0] + (" index" if "/index/" in op else "") for op in operations]
        return status, [c for c in calls if c != "send"], calls.count("send")

    # The first run of a new store also enters its organization, project and service, after
    # finding no service entry; entering the first organization finds no index yet, and marks
    # the store's names complete.
    names = ["GetObject index", "PutObject index", "GetObject index", "ListObjectsV2"]
    names += ["PutObject index"] * 3
    first = orjson.dumps(factory.envelope(run_id="r-0", organization=document["organization"]))
    expected = ["PutObject", "PutObject", *names, "PutObject index"]
    assert count("POST", "/v1/artifacts", first) == (202, expected, 10)
    # Once the process knows the service, a run costs nothing more for its names.
    body = orjson.dumps(document)
    new = ["PutObject", "PutObject", "PutObject index"]
    assert count("POST", "/v1/artifacts", body) == (202, new, 3)
    location = f"/v1/artifacts/{document['organization']}/checkout/api/r-1"
    assert count("GET", location) == (200, ["GetObject", "GetObject"], 2)
    # A replay: claim refused and read (its time indexes the run); record and index
    # creates refused, which also completes a first attempt that stopped early.
    replay = ["PutObject", "GetObject", "PutObject", "PutObject index"]
    assert count("POST", "/v1/artifacts", body) == (202, replay, 4)
    changed = orjson.dumps({**document, "artifact": factory.artifact(2)})
    # A conflict: claim refused and read, then whether its record is stored, so the 409 can
    # say when the first body would complete a run whose record is missing.
    conflict = ["PutObject", "GetObject", "ListObjectsV2"]
    assert count("POST", "/v1/artifacts", changed) == (409, conflict, 3)
    # A run of a new organization: its service's entry is looked for, then the three created.
    with_commit = orjson.dumps(factory.envelope(run_id="r-2", commit_sha="a" * 40))
    entered = [*new[:2], "GetObject index", *["PutObject index"] * 3]
    assert count("POST", "/v1/artifacts", with_commit)[1:] == (
        [*entered, *["PutObject index"] * 2],
        8,
    )
