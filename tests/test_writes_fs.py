"""On ``fs`` a run's writes go at once while its request is alone, one after the other otherwise.

Both ways store the same objects; only the thread that makes them differs.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from werkzeug.test import Client

from stricture_server.app import App
from stricture_server.auth import NoAuth
from stricture_server.ingest.validation import EnvelopeValidator
from stricture_server.ingest.writes import InFlight, Writes
from stricture_server.runstore.runs import RunStore
from stricture_server.settings import STORAGE_DRIVERS, Settings
from stricture_server.storage import Storage
from stricture_server.storage.fs import FileStorage

from . import factory
from .deliveries import HANG_SECONDS, http_send, server_process
from .test_lineage_impact import change, diff

GATED = "/v1/artifacts/acme/gate/api/r1"
"""A read whose storage requests :class:`Gated` holds: another request in flight."""

# A feed entry landing later than half the margin is appended again: a loaded machine must
# not make the two ways differ by that.
SKEW_SECONDS = 3600


class Gated:
    """A store that names the thread of each create and holds reads of ``project=gate``."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.threads: dict[str, str] = {}
        self.entered = threading.Event()
        self.release = threading.Event()

    def _hold(self, key: str) -> None:
        if "/project=gate/" in key:
            self.entered.set()
            assert self.release.wait(HANG_SECONDS)

    def create(self, key: str, data: bytes) -> None:
        self.inner.create(key, data)
        self.threads[key] = threading.current_thread().name

    def read(self, key: str) -> bytes:
        self._hold(key)
        return self.inner.read(key)

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        self._hold(prefix)
        return self.inner.list(prefix, start_after)


@contextmanager
def another_request(client: Client, store: Gated) -> Iterator[None]:
    """A real request of the same app in flight (held in ``store``) while the block runs."""
    answered: list[int] = []
    thread = threading.Thread(target=lambda: answered.append(client.get(GATED).status_code))
    thread.start()
    assert store.entered.wait(HANG_SECONDS)
    try:
        yield
    finally:
        store.release.set()
        thread.join(HANG_SECONDS)
    assert answered == [404]


def envelope(run_id: str) -> dict[str, Any]:
    """A run of ``acme/platform/billing`` with a diff: record, index, feed, blast radius."""
    artifact = factory.service_artifact({"billing:api": ["orders:api"]})
    return factory.envelope(
        organization="acme",
        project="platform",
        service="billing",
        run_id=run_id,
        artifact=artifact,
        diff=diff(change("billing:api")),
    )


def app_on(store: Storage, clock: datetime | None = None) -> App:
    """An app on ``store``, as ``create_app`` builds it for ``fs``; a fixed clock if given."""
    settings = Settings(log_level="error", lineage_skew_seconds=SKEW_SECONDS)
    validator = EnvelopeValidator(strict=True, max_errors=10)
    runs = RunStore(store, settings.object_prefix)
    if clock is None:
        return App(settings, runs, NoAuth(), validator)
    return App(settings, runs, NoAuth(), validator, clock=lambda: clock)


def stored(root: Path) -> dict[str, bytes]:
    """Every object under ``root``; an audit event's name without its random part."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file():
            key = path.relative_to(root).as_posix()
            if "/audit/v1/" in key and "/events/" in key:
                key = key.rpartition("-")[0]
            found[key] = path.read_bytes()
    return found


def test_in_flight_counts_the_requests_of_every_thread() -> None:
    in_flight = InFlight()
    assert in_flight.alone()
    inside = threading.Barrier(4, timeout=HANG_SECONDS)
    counted: list[int] = []

    def request() -> None:
        with in_flight:
            inside.wait()  # all four in flight at once
            counted.append(len(in_flight))
            inside.wait()

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(request) for _ in range(4)]:
            future.result()
    assert counted == [4, 4, 4, 4]
    assert len(in_flight) == 0
    assert in_flight.alone()


def test_writes_go_at_once_only_while_the_request_is_alone() -> None:
    in_flight = InFlight()
    writes = Writes.for_driver("fs", in_flight)
    with in_flight:
        # Each call waits for the other: one after the other, the barrier would break.
        barrier = threading.Barrier(2, timeout=HANG_SECONDS)
        assert sorted(writes.all([barrier.wait, barrier.wait])) == [0, 1]
        with in_flight:
            here = threading.current_thread().name
            names = writes.all([lambda: threading.current_thread().name] * 3)
            assert names == [here] * 3
            assert writes.start(lambda: threading.current_thread().name).result() == here


def test_every_driver_has_its_policy() -> None:
    in_flight = InFlight()
    with in_flight, in_flight:  # two requests in flight
        at_once = {d: Writes.for_driver(d, in_flight).at_once() for d in STORAGE_DRIVERS}
    assert at_once == {"fs": False, "s3": True, "r2": True, "mirror": False}
    assert all(Writes.for_driver(d, in_flight).at_once() for d in STORAGE_DRIVERS)


def test_a_lone_ingest_and_a_busy_one_store_the_same_objects(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    alone = Gated(FileStorage(tmp_path / "alone"))
    busy = Gated(FileStorage(tmp_path / "busy"))
    alone_app, busy_app = app_on(alone, now), app_on(busy, now)
    headers = {"X-Request-Id": "one-request"}
    reply = Client(alone_app).post("/v1/artifacts", json=envelope("r1"), headers=headers)
    assert reply.status_code == 202
    with another_request(Client(busy_app), busy):
        reply = Client(busy_app).post("/v1/artifacts", json=envelope("r1"), headers=headers)
        assert reply.status_code == 202
    assert stored(tmp_path / "alone") == stored(tmp_path / "busy")
    # The record, index objects, feed entry, blast radius and audit event: the first way on
    # the writes' threads, after the claim; the second in the request's thread, as many.
    at_once = [k for k, name in alone.threads.items() if name.startswith("stricture-write")]
    assert {part_of(k) for k in at_once} >= {
        "payload.json",
        "blast-radius.json",
        "index/v1",
        "compact/v1",
        "lineage/v1",
        "audit/v1",
    }
    assert not any(name.startswith("stricture-write") for name in busy.threads.values())
    assert len(busy.threads) == len(alone.threads)


def part_of(key: str) -> str:
    """What a created key holds: a run's object by its name, others by their root."""
    parts = key.split("/")
    return parts[-1] if parts[1] == "v1" else "/".join(parts[1:3])


def kinds(root: Path) -> Counter[str]:
    """How many objects of each kind: a key without its parts that hold a time or a digest."""
    found: Counter[str] = Counter()
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        key = path.relative_to(root).as_posix()
        parts = [p for p in key.split("/") if not any(c.isdigit() for c in p)]
        found["/".join(parts)] += 1
    return found


def test_a_real_server_stores_what_one_write_after_the_other_stores(tmp_path: Path) -> None:
    # One worker with two threads: the lone ingest writes at once, the crowd mostly not.
    runs = ["ra", "rb", "rc", "rd", "re", "rf", "rg", "rh"]
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path / "served"),
        "STRICTURE_SERVER_WORKERS": "1",
        "STRICTURE_SERVER_THREADS": "2",
        "STRICTURE_SERVER_LINEAGE_SKEW_SECONDS": str(SKEW_SECONDS),
        "STRICTURE_SERVER_LOG_LEVEL": "error",
    }
    headers = {"Content-Type": "application/json"}
    with server_process(env) as (port, _):

        def post(run_id: str) -> int:
            body = orjson.dumps(envelope(run_id))
            return http_send(port, "POST", "/v1/artifacts", headers, body).status

        assert post(runs[0]) == 202
        with ThreadPoolExecutor(len(runs) - 1) as pool:
            assert list(pool.map(post, runs[1:])) == [202] * (len(runs) - 1)
        for run_id in runs:
            reply = http_send(port, "GET", f"/v1/blast-radius/acme/platform/billing/{run_id}", {})
            assert reply.status == 200
    # The same runs, each written one after the other while another request is in flight.
    reference = Gated(FileStorage(tmp_path / "reference"))
    app = app_on(reference)
    for run_id in runs:
        reference.entered.clear()
        reference.release.clear()
        with another_request(Client(app), reference):
            assert Client(app).post("/v1/artifacts", json=envelope(run_id)).status_code == 202
    served = kinds(tmp_path / "served")
    assert served == kinds(tmp_path / "reference")
    service = "stricture/org=acme/project=platform/service=billing"
    for run_id in runs:
        assert served[f"{service}/run={run_id}/payload.json"] == 1
        assert served[f"{service}/run={run_id}/blast-radius.json"] == 1
    assert served["stricture/audit/org=acme/events"] == len(runs)
