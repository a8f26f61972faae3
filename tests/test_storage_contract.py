"""The storage contract: one set of tests that every driver passes (see ``STORES``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stricture_server import Settings
from stricture_server.errors import ObjectExists, ObjectNotFound
from stricture_server.storage import Replicating, Storage
from stricture_server.storage.fs import FileStorage
from stricture_server.storage.local_first import LocalFirst
from stricture_server.storage.mirror import open_mirror_storage

from .objectstore import emulator, new_bucket, object_env, s3_storage, stored


def _fs(tmp_path: Path) -> Iterator[Storage]:
    yield FileStorage(tmp_path / "data")


def _fs_named_temp(tmp_path: Path) -> Iterator[Storage]:
    # The path taken where the filesystem has no O_TMPFILE.
    yield FileStorage(tmp_path / "data", anonymous_temp=False)


def _s3(tmp_path: Path) -> Iterator[Storage]:
    yield s3_storage("s3", new_bucket(), emulator())


def _r2(tmp_path: Path) -> Iterator[Storage]:
    yield s3_storage("r2", new_bucket(), emulator())


def _mirror(tmp_path: Path) -> Iterator[Storage]:
    bucket = new_bucket()
    env = object_env("mirror", bucket, emulator(), STRICTURE_SERVER_MIRROR_TARGET="s3")
    env["STRICTURE_SERVER_DATA_DIR"] = str(tmp_path / "data")
    store = open_mirror_storage(Settings.from_env(env))
    yield store
    # Whatever the test stored locally reaches the bucket, byte-identical, in one drain.
    assert not store.replicator.drain().unavailable
    local = {key: store.local.read(key) for key in store.local.list("")}
    assert stored(bucket) == local


def _mirror_reads(tmp_path: Path) -> Iterator[Storage]:
    # The mirror as the read API sees it: with its store up, the mirror's own answers.
    for store in _mirror(tmp_path):
        assert isinstance(store, Replicating)
        yield LocalFirst(store, store.local_copy())


STORES: dict[str, Callable[[Path], Iterator[Storage]]] = {
    "fs": _fs,
    "fs-named-temp": _fs_named_temp,
    "s3": _s3,
    "r2": _r2,
    "mirror": _mirror,
}
"""Every driver, as a generator of a fresh, empty store; a new driver adds one entry."""


CONTRACT_STORES = {**STORES, "mirror-reads": _mirror_reads}
"""The drivers, and the view of the mirror the read API lists through (only here: over the
query suite it would repeat the mirror's answers)."""


@pytest.fixture(params=sorted(CONTRACT_STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """A fresh store of each driver."""
    yield from CONTRACT_STORES[request.param](tmp_path)


def test_create_then_read(store: Storage) -> None:
    store.create("p/v1/a/b.json", b'{"x":1}')
    assert store.read("p/v1/a/b.json") == b'{"x":1}'


def test_create_never_overwrites(store: Storage) -> None:
    store.create("p/k.json", b"first")
    with pytest.raises(ObjectExists) as caught:
        store.create("p/k.json", b"second")
    assert caught.value.key == "p/k.json"
    assert store.read("p/k.json") == b"first"


def test_identical_create_is_still_refused(store: Storage) -> None:
    store.create("p/k.json", b"same")
    with pytest.raises(ObjectExists):
        store.create("p/k.json", b"same")


def test_missing_key(store: Storage) -> None:
    with pytest.raises(ObjectNotFound):
        store.read("p/none.json")
    store.create("p/file.json", b"x")
    with pytest.raises(ObjectNotFound):
        store.read("p/file.json/below")


def test_list_by_prefix_is_sorted_and_complete(store: Storage) -> None:
    keys = ["p/a/2.json", "p/a/1.json", "p/ab/3.json", "p/b/4.json", "q/5.json"]
    for key in keys:
        store.create(key, b"{}")
    assert list(store.list("p/a/")) == ["p/a/1.json", "p/a/2.json"]
    assert list(store.list("p/a")) == ["p/a/1.json", "p/a/2.json", "p/ab/3.json"]
    assert list(store.list("p/")) == sorted(k for k in keys if k.startswith("p/"))
    assert list(store.list("none/")) == []
    assert list(store.list("p/", start_after="p/a/2.json")) == ["p/ab/3.json", "p/b/4.json"]


def test_list_orders_keys_across_directories_and_resumes_anywhere(store: Storage) -> None:
    # "-" and "!" sort before "/", "0" and "~" after it: a directory's keys sit between its
    # siblings exactly where a flat key store puts them.
    keys = ["p/a-b", "p/a!c", "p/a/b/c", "p/a/b-d", "p/a/b/e/f", "p/a0", "p/a~", "p/ab/x", "p/b"]
    for key in keys:
        store.create(key, b"{}")
    every = sorted(keys)
    assert list(store.list("p/")) == every
    for after in ["", "p/a", "p/a/", "p/a/b", "p/a/b/", "p/a/b/c", "p/a/b/z", "p/a/~", "p/a0"]:
        for prefix in ["p/", "p/a", "p/a/", "p/a/b", "p/a/b/"]:
            expected = [k for k in every if k.startswith(prefix) and k > after]
            assert list(store.list(prefix, after)) == expected, (prefix, after)
    # Stopping after the first key is where the listing ends.
    assert next(iter(store.list("p/a/", "p/a/b/c"))) == "p/a/b/e/f"
    # Nothing is under an object's key.
    assert list(store.list("p/b/")) == []
    assert list(store.list("p/b/c/")) == []


def test_a_directory_of_files_lists_its_new_subdirectory_too(store: Storage) -> None:
    # On fs a directory of files only is read in one pass (its link count says so); one that
    # gains a subdirectory is walked again.
    for n in range(3):
        store.create(f"d/{n}.json", b"{}")
    assert list(store.list("d/", "d/0.json")) == ["d/1.json", "d/2.json"]
    store.create("d/1/x.json", b"{}")
    assert list(store.list("d/")) == ["d/0.json", "d/1.json", "d/1/x.json", "d/2.json"]
    assert list(store.list("d/", "d/1.json")) == ["d/1/x.json", "d/2.json"]
    assert list(store.list("d/1")) == ["d/1.json", "d/1/x.json"]


def test_binary_content_is_kept_byte_exact(store: Storage) -> None:
    data = bytes(range(256)) * 4096
    store.create("p/blob.bin", data)
    assert store.read("p/blob.bin") == data


def test_twenty_racers_on_one_key_exactly_one_wins(store: Storage) -> None:
    barrier = threading.Barrier(20)
    winners: list[int] = []
    losers: list[int] = []

    def race(n: int) -> None:
        barrier.wait()
        try:
            store.create("p/race.json", f"writer-{n}".encode())
            winners.append(n)
        except ObjectExists:
            losers.append(n)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    assert len(losers) == 19
    assert store.read("p/race.json") == f"writer-{winners[0]}".encode()


def test_many_keys_in_parallel_lose_nothing(store: Storage) -> None:
    def write(n: int) -> None:
        for i in range(10):
            store.create(f"p/day/run-{n}-{i}.json", str(n * 100 + i).encode())

    threads = [threading.Thread(target=write, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(list(store.list("p/day/"))) == 100


@pytest.mark.parametrize("anonymous_temp", [True, False])
def test_fs_leaves_only_the_objects_behind(tmp_path: Path, anonymous_temp: bool) -> None:
    store = FileStorage(tmp_path, anonymous_temp=anonymous_temp)
    store.create("p/d/a.json", b"a")
    with pytest.raises(ObjectExists):
        store.create("p/d/a.json", b"b")
    store.create("p/e/f/b.json", b"b")
    found = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert found == ["p/d/a.json", "p/e/f/b.json"]
    assert (tmp_path / "p/d/a.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "key",
    ["", "/a", "a/", "a//b", ".", "..", "../a", "a/..", "a/../b", "a/./b", ".tmp-1", "p/.tmp-1"],
)
def test_fs_refuses_a_key_with_an_empty_or_dot_segment(tmp_path: Path, key: str) -> None:
    store = FileStorage(tmp_path / "data")
    for use in (lambda: store.create(key, b"x"), lambda: store.read(key)):
        with pytest.raises(ValueError, match="unsafe storage key"):
            use()
    assert not (tmp_path / "data").exists()


def test_fs_takes_dots_inside_a_segment(tmp_path: Path) -> None:
    store = FileStorage(tmp_path / "data")
    store.create("p.q/a..b/c.json", b"x")
    assert store.read("p.q/a..b/c.json") == b"x"


def test_fs_falls_back_to_a_named_temp_file_where_proc_does_not_lead_to_the_file(
    tmp_path: Path,
) -> None:
    # A /proc without the process's descriptors, as some sandboxes have: the first link fails,
    # that create and every later one go through a named temp file.
    empty = tmp_path / "no-fds"
    empty.mkdir()
    store = FileStorage(tmp_path / "data", proc_fd=str(empty))
    store.create("p/a.json", b"a")
    store.create("p/b.json", b"b")
    with pytest.raises(ObjectExists):
        store.create("p/a.json", b"c")
    assert [store.read(k) for k in store.list("p/")] == [b"a", b"b"]
    assert sorted(p.name for p in (tmp_path / "data" / "p").iterdir()) == ["a.json", "b.json"]


def test_list_resumes_inside_a_large_directory(store: Storage) -> None:
    # The lineage feed's day directory, listed from the last entry this process applied.
    names = [f"feed/d/{n:05d}.json" for n in range(300)]
    for key in [*names, "feed/d/sub/x.json", "feed/e/y.json"]:
        store.create(key, b"{}")
    assert list(store.list("feed/d/", start_after="feed/d/00290.json")) == [
        *names[291:],
        "feed/d/sub/x.json",
    ]
    assert list(store.list("feed/", start_after="feed/d/00299.json")) == [
        "feed/d/sub/x.json",
        "feed/e/y.json",
    ]
    assert list(store.list("feed/d/", start_after="feed/c")) == [*names, "feed/d/sub/x.json"]
