"""The s3/r2 driver beyond the contract: conflicts, outages, paging, requests per ingest."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from werkzeug.test import Client

from stricture_server import Settings, create_app
from stricture_server.errors import ObjectExists, ObjectNotFound, StorageUnavailable
from stricture_server.storage.guard import FAILURES_BEFORE_COOLDOWN
from stricture_server.storage.s3 import CONFLICT_ATTEMPTS, S3Storage, open_object_storage

from . import factory
from .objectstore import (
    COOLDOWN_SECONDS,
    SHORT_READ_TIMEOUT,
    FaultProxy,
    admin_client,
    emulator,
    fault_proxy,
    new_bucket,
    object_env,
    stored,
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


def sent(storage: S3Storage, *, prefixes: bool = False) -> list[str]:
    """Records every request the driver's client sends, as ``"<operation> <key>"``.

    With ``prefixes``, a listing is recorded with its prefix as its key.
    """
    operations: list[str] = []

    def note(model: Any, params: dict[str, Any], **_: Any) -> None:
        key = params.get("Key", params.get("Prefix", "") if prefixes else "")
        operations.append(f"{model.name} {key}".strip())

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
    time.sleep(COOLDOWN_SECONDS)  # three failures in a row: the store is not asked until then
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
    storage = make_storage("s3", bucket, emulator())
    operations = sent(storage)
    assert list(storage.list("p/")) == keys
    assert operations.count("ListObjectsV2") == 2
    operations.clear()
    first = storage.list("p/", start_after="p/run-00500.json")
    assert next(first) == "p/run-00501.json"
    assert operations.count("ListObjectsV2") == 1


def test_objects_carry_their_sha256() -> None:
    bucket = new_bucket()
    make_storage("r2", bucket, emulator()).create("p/k.json", b"data")
    head = admin_client().head_object(Bucket=bucket, Key="p/k.json")
    assert head["Metadata"]["sha256"] == (
        "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7"
    )


def test_requests_per_ingest() -> None:
    """The claim, then the run's other objects at once; a replay asks before it writes."""
    env = object_env("s3", new_bucket(), emulator(), STRICTURE_SERVER_LOG_LEVEL="error")
    app = create_app(Settings.from_env(env))
    assert isinstance(app.runs.storage, S3Storage)
    operations = sent(app.runs.storage, prefixes=True)
    client = Client(app)
    document = factory.envelope(run_id="r-1")
    headers = {"Content-Type": "application/json"}

    def count(
        method: str, path: str, data: bytes = b"", *, in_order: int = 0
    ) -> tuple[int, list[str], list[str], int]:
        """The status, the first ``in_order`` requests, the others sorted, and the sends."""
        operations.clear()
        status = client.open(path, method=method, data=data, headers=headers).status_code
        calls = [op.split(" ")[0] + _area(op) for op in operations if op != "send"]
        return status, calls[:in_order], sorted(calls[in_order:]), operations.count("send")

    # The first run of a new store also enters its organization, project and service, after
    # finding no service entry; entering the first organization finds no index yet, and marks
    # the store's names (and its organization feed entries) complete. Claim first, then names,
    # then the rest at once: the record, the timeline entry, its organization's feed entry and
    # the run's lineage feed entry.
    names = ["GetObject index", "PutObject index", "GetObject index", "ListObjectsV2 index"]
    names += ["PutObject index", "PutObject compact", "PutObject index", "PutObject index"]
    together = ["PutObject", "PutObject index", "PutObject compact", "PutObject lineage"]
    # With them, the request's audit event (it needs only the claim's answer): in a new
    # organization's log, after the log's entry.
    audit = ["PutObject audit"]
    new_log = ["PutObject audit", *audit]
    first = orjson.dumps(factory.envelope(run_id="r-0", organization=document["organization"]))
    in_order = ["PutObject", *names]
    then = sorted([*together, *new_log])
    assert count("POST", "/v1/artifacts", first, in_order=9) == (202, in_order, then, 15)
    # Once the process knows the service, a run costs nothing more for its names: the claim,
    # then the four others and its audit event at once (two round trips).
    body = orjson.dumps(document)
    then = sorted([*together, *audit])
    assert count("POST", "/v1/artifacts", body, in_order=1) == (202, ["PutObject"], then, 6)
    location = f"/v1/artifacts/{document['organization']}/checkout/api/r-1"
    assert count("GET", location) == (200, [], ["GetObject", "GetObject"], 2)
    # A replay: claim refused and read (its time indexes the run); then whether the record,
    # the index entry and the feed entries are stored, one listing each, and nothing uploaded.
    replay = ["ListObjectsV2", "ListObjectsV2 index", "ListObjectsV2 lineage", *audit]
    replay.append("ListObjectsV2 compact")
    assert count("POST", "/v1/artifacts", body, in_order=2) == (
        202,
        ["PutObject", "GetObject"],
        sorted(replay),
        7,
    )
    changed = orjson.dumps({**document, "artifact": factory.artifact(2)})
    # A conflict: claim refused and read, then whether its record is stored, so the 409 can
    # say when the first body would complete a run whose record is missing.
    conflict = ["PutObject", "GetObject", "ListObjectsV2"]
    assert count("POST", "/v1/artifacts", changed, in_order=3) == (409, conflict, audit, 4)
    # A run of a new organization: its service's entry is looked for, then the three created;
    # a run with a commit has a commit entry too.
    with_commit = orjson.dumps(factory.envelope(run_id="r-2", commit_sha="a" * 40))
    entered = ["PutObject", "GetObject index", *["PutObject index"] * 3]
    assert count("POST", "/v1/artifacts", with_commit, in_order=5)[1:] == (
        entered,
        sorted([*together, "PutObject index", *new_log]),
        12,
    )


def _area(operation: str) -> str:
    for area in ("index", "lineage", "audit", "compact"):
        if f"/{area}/" in operation:
            return f" {area}"
    return ""


def guarded(proxy: FaultProxy, driver: str = "s3", **extra: str) -> S3Storage:
    """The ``driver`` on a fresh bucket through the proxy, with settings of its own."""
    env = object_env(driver, new_bucket(), proxy.url, **extra)
    return open_object_storage(Settings.from_env(env), driver)


# Per-attempt timeouts far above the deadline: only the deadline can end the call.
PATIENT = {
    "STRICTURE_SERVER_OBJECT_READ_TIMEOUT_SECONDS": "60",
    "STRICTURE_SERVER_OBJECT_DEADLINE_SECONDS": "2",
}


@pytest.mark.parametrize("mode", ["hang", "slow"])
def test_a_silent_or_dripping_store_is_cut_at_the_deadline(proxy: FaultProxy, mode: str) -> None:
    """botocore's read timeout is per socket read: neither store would ever trip it."""
    storage = guarded(proxy, **PATIENT)
    storage.create("p/there.json", b"x")
    proxy.mode = mode
    for operation in (
        lambda: storage.create("p/k.json", b"data"),
        lambda: storage.read("p/there.json"),
        lambda: list(storage.list("p/")),
    ):
        with pytest.raises(StorageUnavailable, match="did not answer within"):
            operation()


def test_repeated_failures_fail_fast_for_the_cooldown(proxy: FaultProxy) -> None:
    storage = guarded(proxy, STRICTURE_SERVER_OBJECT_MAX_ATTEMPTS="1")
    proxy.mode = "error"
    for _ in range(FAILURES_BEFORE_COOLDOWN):
        with pytest.raises(StorageUnavailable, match="500"):
            storage.read("p/k.json")
    asked = len(proxy.seen)
    with pytest.raises(StorageUnavailable, match="not asked again") as caught:
        storage.create("p/k.json", b"data")
    assert len(proxy.seen) == asked  # the store was not asked
    assert 0 < caught.value.retry_after <= COOLDOWN_SECONDS
    proxy.mode = "pass"
    time.sleep(COOLDOWN_SECONDS)
    storage.create("p/k.json", b"data")  # the trial after the cool-down
    assert storage.read("p/k.json") == b"data"


def test_answers_that_refuse_do_not_count_as_failures(proxy: FaultProxy) -> None:
    storage = guarded(proxy)
    storage.create("p/k.json", b"data")
    for _ in range(FAILURES_BEFORE_COOLDOWN + 1):
        with pytest.raises(ObjectExists):
            storage.create("p/k.json", b"data")
        with pytest.raises(ObjectNotFound):
            storage.read("p/none.json")
    assert storage.read("p/k.json") == b"data"


def test_a_reset_in_the_middle_of_a_body_stores_nothing(proxy: FaultProxy) -> None:
    bucket = new_bucket()
    storage = open_object_storage(Settings.from_env(object_env("s3", bucket, proxy.url)), "s3")
    storage.create("p/there.json", b"x" * 4096)
    proxy.mode = "reset"
    with pytest.raises(StorageUnavailable):
        storage.create("p/k.json", b"y" * 4096)
    with pytest.raises(StorageUnavailable):
        storage.read("p/there.json")
    assert stored(bucket) == {"p/there.json": b"x" * 4096}


def test_r2_racers_get_one_winner_and_the_others_exists(proxy: FaultProxy) -> None:
    """R2 answers 429 to a second write on a key within a second: retried, not a failure."""
    storage = guarded(proxy, "r2")
    proxy.mode = "r2"

    def race(n: int) -> str:
        try:
            storage.create("p/run.json", b"same")
        except ObjectExists:
            return "exists"
        return "created"

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(race, range(20)))
    assert sorted(outcomes) == ["created"] + ["exists"] * 19
    assert proxy.throttled > 0  # the emulated limit was hit, and retried through


@pytest.mark.parametrize("driver", ["r2", "s3"])
def test_no_expect_100_continue_is_sent(proxy: FaultProxy, driver: str) -> None:
    """R2 never answers 100 Continue; botocore would wait a second for it on each PutObject."""
    proxy.continues = False
    storage = guarded(proxy, driver)
    proxy.seen.clear()
    storage.create("p/k.json", b"data")
    [(method, _, headers)] = proxy.seen
    assert (method, headers.get("expect")) == ("PUT", None)


def test_headers_sent_are_pinned(proxy: FaultProxy) -> None:
    """Fails if an SDK upgrade changes what goes on the wire: SHA-256 only, no CRC trailers."""
    storage = guarded(proxy, "r2")
    proxy.seen.clear()
    storage.create("p/k.json", b"data")
    storage.read("p/k.json")
    list(storage.list("p/"))
    put, get, listing = (headers for _, _, headers in proxy.seen)
    digest = base64.b64encode(hashlib.sha256(b"data").digest()).decode()
    assert put["x-amz-checksum-sha256"] == digest
    assert put["if-none-match"] == "*"
    assert put["x-amz-meta-sha256"] == hashlib.sha256(b"data").hexdigest()
    assert put["content-length"] == "4"
    for headers, checksums in ((put, {"x-amz-checksum-sha256"}), (get, set()), (listing, set())):
        assert {k for k in headers if "checksum" in k or "trailer" in k} == checksums
        assert "content-encoding" not in headers  # no aws-chunked body
        assert "x-amz-checksum-mode" not in headers
        assert "expect" not in headers
    assert [m for m, _, _ in proxy.seen] == ["PUT", "GET", "GET"]


def test_an_empty_truncated_listing_page_ends_the_listing(proxy: FaultProxy) -> None:
    storage = guarded(proxy)
    proxy.mode = "empty-page"
    assert list(storage.list("p/")) == []
    assert len(proxy.seen) == 1


def test_a_body_changed_on_the_way_is_refused_by_the_store(proxy: FaultProxy) -> None:
    """The SHA-256 the driver sends lets the store refuse what it did not receive intact."""
    bucket = new_bucket()
    storage = open_object_storage(Settings.from_env(object_env("s3", bucket, proxy.url)), "s3")
    proxy.mode = "corrupt"
    with pytest.raises(StorageUnavailable, match="400 BadDigest"):
        storage.create("p/k.json", b"data")
    assert stored(bucket) == {}
    proxy.mode = "pass"
    storage.create("p/k.json", b"data")
    assert stored(bucket) == {"p/k.json": b"data"}
