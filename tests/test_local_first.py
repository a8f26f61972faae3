"""The mirror's reads while its object store is away: answered from the local copy, and said so.

The process-level cases (store refused, store silent, every read) are in
``test_object_process.py``; here, the view itself and the documented limit of a fresh data
directory in front of a filled bucket.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import pytest
from werkzeug.test import Client

from stricture_server import Settings, create_app
from stricture_server.app import PARTIAL_HEADER, STORE_UNAVAILABLE, App
from stricture_server.errors import NotFoundLocally, StorageUnavailable
from stricture_server.runstore.names import complete_key, names_root
from stricture_server.storage.fs import FileStorage
from stricture_server.storage.local_first import LocalFirst, Partial, carried, noting
from stricture_server.storage.mirror import MirrorStorage

from . import factory
from .deliveries import HANG_SECONDS
from .objectstore import FaultProxy, fault_proxy, new_bucket
from .test_mirror import mirror_env


class FailingAfter:
    """A real store whose listings fail after ``keys`` keys, as an object store failing on a
    later page does; its reads fail as the mirror's do while its store is away."""

    def __init__(self, inner: FileStorage, keys: int) -> None:
        self.inner = inner
        self.keys = keys

    def create(self, key: str, data: bytes) -> None:
        """The inner create."""
        self.inner.create(key, data)

    def read(self, key: str) -> bytes:
        """Not found, because the store could not be asked."""
        raise NotFoundLocally(key, "store away")

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """The inner listing, up to ``keys`` keys, then unavailable if it holds more."""
        listed = self.inner.list(prefix, start_after)
        yield from islice(listed, self.keys)
        if next(listed, None) is not None:
            raise StorageUnavailable("store away")


def _filled(root: Path, keys: list[str]) -> FileStorage:
    store = FileStorage(root)
    for key in keys:
        store.create(key, b"x")
    return store


def test_a_listing_that_fails_midway_goes_on_from_the_local_copy(tmp_path: Path) -> None:
    # The store holds b0..b2 besides what the local copy holds (a, c); it fails after 2 keys.
    local = ["p/a", "p/c"]
    store = FailingAfter(_filled(tmp_path / "store", [*local, "p/b0", "p/b1", "p/b2"]), 2)
    view = LocalFirst(store, _filled(tmp_path / "local", local))
    with noting(partial := Partial()):
        assert list(view.list("p/")) == ["p/a", "p/b0", "p/c"]
    assert partial.reason == "store away"
    with noting(partial := Partial()):
        assert list(view.list("p/", "p/b0")) == ["p/b1", "p/b2", "p/c"]  # a resumed page alike
    assert partial.reason == "store away"
    with noting(partial := Partial()):
        assert list(view.list("p/c")) == ["p/c"]
    assert partial == Partial()  # answered whole: nothing noted


def test_a_miss_while_the_store_is_away_is_noted_and_still_not_found(tmp_path: Path) -> None:
    store = FailingAfter(_filled(tmp_path / "store", ["p/elsewhere"]), 0)
    view = LocalFirst(store, FileStorage(tmp_path / "local"))
    with noting(partial := Partial()), pytest.raises(NotFoundLocally):
        view.read("p/unknown")
    assert partial.reason == "store away"
    # Outside a request nothing is noted, and nothing fails for it.
    assert list(view.list("p/")) == []


def test_notes_made_on_a_pools_threads_reach_the_request(tmp_path: Path) -> None:
    store = FailingAfter(_filled(tmp_path / "store", ["a/elsewhere", "b/elsewhere"]), 0)
    view = LocalFirst(store, FileStorage(tmp_path / "local"))
    with noting(partial := Partial()), ThreadPoolExecutor(4) as pool:
        assert list(pool.map(carried(lambda p: list(view.list(p))), ["a/", "b/"])) == [[], []]
    assert partial.reason == "store away"
    with noting(partial := Partial()), ThreadPoolExecutor(4) as pool:
        # Without carrying the request's context, a pool thread's note is lost.
        list(pool.map(lambda p: list(view.list(p)), ["a/", "b/"]))
    assert partial == Partial()


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    """A fault proxy in front of moto."""
    with fault_proxy() as running:
        yield running


class Server:
    """The app on one data directory in front of the bucket, as ``create_app`` builds it."""

    def __init__(self, data_dir: Path, bucket: str, proxy: FaultProxy) -> None:
        self.app: App = create_app(Settings.from_env(mirror_env(data_dir, bucket, proxy.url)))
        self.client = Client(self.app)
        self.data_dir = data_dir

    @property
    def mirror(self) -> MirrorStorage:
        """The app's mirror driver."""
        storage = self.app.runs.storage
        assert isinstance(storage, MirrorStorage)
        return storage

    def ingest(self, **fields: Any) -> None:
        """Store one run of acme/checkout/api."""
        document = factory.envelope(organization="acme", **fields)
        reply = self.client.post("/v1/artifacts", data=orjson.dumps(document))
        assert reply.status_code == 202, reply.get_data()

    def get(self, path: str) -> tuple[int, str | None, Any]:
        """Status, partial header and JSON body of a read."""
        reply = self.client.get(path)
        return reply.status_code, reply.headers.get(PARTIAL_HEADER), reply.json


SERVICE = "/v1/artifacts/acme/checkout/api"


def _runs(server: Server) -> tuple[int, str | None, list[str]]:
    status, partial, body = server.get(SERVICE)
    return status, partial, [run["run_id"] for run in body["runs"]]


def _latest(server: Server) -> tuple[int, str | None, str]:
    status, partial, body = server.get(f"{SERVICE}/latest")
    return status, partial, body.get("run_id") or body["error"]


def test_a_fresh_data_dir_in_front_of_a_filled_bucket_answers_only_for_its_own_copy(
    tmp_path: Path, proxy: FaultProxy
) -> None:
    """The documented limit (docs/storage.md, mirror): what only the bucket holds is missing
    from the answers while the store is away, and every such answer says so."""
    bucket = new_bucket()
    first = Server(tmp_path / "one", bucket, proxy)
    second = Server(tmp_path / "two", bucket, proxy)
    try:
        first.ingest(run_id="old", generated_at="2026-02-02T00:00:00Z")
        first.mirror.stop_replication()
        assert not first.mirror.replicator.drain().unavailable  # the bucket holds it all
        # Store up: the fresh data dir serves the bucket, merged, and says nothing more.
        assert _runs(second) == (200, None, ["old"])
        assert _latest(second) == (200, None, "old")
        proxy.down()
        second.ingest(run_id="new", generated_at="2026-02-01T00:00:00Z")
        assert _runs(second) == (200, STORE_UNAVAILABLE, ["new"])
        # The newest run is in the bucket only: `latest` names an older one, and says so.
        assert _latest(second) == (200, STORE_UNAVAILABLE, "new")
        status, partial, _ = second.get(f"{SERVICE}/old")
        assert (status, partial) == (404, STORE_UNAVAILABLE)
        organizations = second.get("/v1/artifacts")
        assert organizations[:2] == (200, STORE_UNAVAILABLE)
        assert [o["organization"] for o in organizations[2]["organizations"]] == ["acme"]
        # Nothing was decided from the local copy alone: the names are not marked complete.
        local = FileStorage(second.data_dir)
        assert complete_key("stricture") not in set(local.list(names_root("stricture")))
        # The first data dir holds its own run locally: a read by id needs no store.
        assert first.get(f"{SERVICE}/old")[:2] == (200, None)
        proxy.up()
        deadline = time.monotonic() + HANG_SECONDS
        while _runs(second)[1] is not None and time.monotonic() < deadline:
            time.sleep(0.1)  # the store is asked again after the cool-down
        assert _runs(second) == (200, None, ["old", "new"])
        assert _latest(second) == (200, None, "old")
    finally:
        first.mirror.stop_replication()
        second.mirror.stop_replication()
