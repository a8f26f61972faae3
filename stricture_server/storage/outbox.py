"""The mirror's outbox: a durable, on-disk queue of keys still to copy to the object store.

One file per key under ``<data_dir>/.outbox/pending/``, created (fsynced) before an ingest is
acknowledged, removed once the object store holds the same bytes. Any number of threads and
processes may work on one outbox: an entry is taken with a non-blocking ``flock``, which the
kernel releases when its holder exits, even by ``kill -9``, so no entry is ever stuck.

A ``flock`` belongs to the open file, and a fork gives the child a copy of every descriptor:
a lock held by one thread at the moment of a fork (``gunicorn --preload`` forks workers from a
process that replicates) would stay held through the child's copy, which no thread of the
child knows about, until the child exits. So every descriptor that may hold a lock is tracked,
and the child closes its copies right after the fork.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import ObjectExists
from .fs import FileStorage


@dataclass(frozen=True, slots=True)
class Entry:
    """One taken entry: the key to replicate, held by this process until released."""

    key: str
    path: Path
    fd: int


class Outbox:
    """Pending and failed replications, and shared counters, under one directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.files = FileStorage(self.root)
        self.pending_dir = self.root / "pending"
        self.failed_dir = self.root / "failed"
        self._held: set[int] = set()
        # Held around opening or closing a tracked descriptor and across a fork, so the child's
        # set names exactly the descriptors it inherited.
        self._fds = threading.Lock()
        os.register_at_fork(
            before=self._fds.acquire,
            after_in_parent=self._fds.release,
            after_in_child=self._after_fork,
        )

    def _after_fork(self) -> None:
        for fd in self._held:
            with suppress(OSError):
                os.close(fd)
        self._held = set()
        self._fds = threading.Lock()

    def _open(self, path: Path, flags: int) -> int:
        with self._fds:
            fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
            self._held.add(fd)
        return fd

    def _close(self, fd: int) -> None:
        with self._fds:
            self._held.discard(fd)
            os.close(fd)

    def add(self, key: str) -> None:
        """Queue ``key`` durably; a key already pending is queued once."""
        body = orjson.dumps({"key": key, "enqueued_at": time.time()})
        with suppress(ObjectExists):
            self.files.create(f"pending/{_name(key)}", body)

    def pending(self) -> list[Path]:
        """Pending entries, oldest first."""
        entries = []
        for path in _entries(self.pending_dir):
            with suppress(FileNotFoundError):
                entries.append((path.stat().st_mtime, path))
        return [path for _, path in sorted(entries)]

    def take(self, path: Path) -> Entry | None:
        """Lock one entry for this caller, or None if another holds it or it is gone."""
        try:
            fd = self._open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Its holder may have finished and removed it between our open and our lock.
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                raise FileNotFoundError(path)
            key = orjson.loads(os.read(fd, 1 << 16))["key"]
        except (BlockingIOError, FileNotFoundError):
            self._close(fd)
            return None
        return Entry(str(key), path, fd)

    def done(self, entry: Entry) -> None:
        """The key is replicated: drop the entry (a lost removal only means a harmless redo)."""
        with suppress(FileNotFoundError):
            os.unlink(entry.path)
        self._close(entry.fd)

    def fail(self, entry: Entry, error: str) -> None:
        """Move the entry to ``failed/`` with the reason; it is not retried automatically."""
        body = orjson.dumps({"key": entry.key, "error": error, "failed_at": time.time()})
        with suppress(ObjectExists):
            self.files.create(f"failed/{entry.path.name}", body)
        self.done(entry)

    def release(self, entry: Entry) -> None:
        """Leave the entry pending, for a later attempt."""
        self._close(entry.fd)

    def note(self, replicated: int = 0, error: str = "") -> None:
        """Add to the shared count of replicated keys, or record the last error."""
        with self._state() as state:
            state["replicated"] = state.get("replicated", 0) + replicated
            if error:
                state["last_error"] = error
                state["last_error_at"] = time.time()

    def mark_behind(self, behind: bool) -> bool:
        """Record whether replication is behind; True only for the caller that changed it.

        Every worker on a data directory replicates, but the change is made once, under the
        shared lock, so "behind" and "recovered" are logged once per data directory.
        """
        with self._state() as state:
            if bool(state.get("behind")) == behind:
                return False
            state["behind"] = behind
            if not behind:
                state["recovered_at"] = time.time()
            return True

    def status(self) -> dict[str, Any]:
        """Counts and ages for ``GET /v1/replication``."""
        pending = self.pending()
        oldest = None
        with suppress(FileNotFoundError, IndexError):
            oldest = round(time.time() - pending[0].stat().st_mtime, 3)
        with self._state() as state:
            shared = dict(state)
        return {
            "pending": len(pending),
            "replicated": shared.get("replicated", 0),
            "failed": sum(1 for _ in _entries(self.failed_dir)),
            "oldest_pending_age_seconds": oldest,
            "last_error": shared.get("last_error"),
            "last_error_at": shared.get("last_error_at"),
            "behind": bool(shared.get("behind")),
            "recovered_at": shared.get("recovered_at"),
        }

    @contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        # Counters only, not records: written without fsync, under a lock shared by every
        # process on this data directory.
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "state.json"
        lock = self._open(self.root / "state.lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state: dict[str, Any] = orjson.loads(path.read_bytes())
            except (FileNotFoundError, orjson.JSONDecodeError):
                state = {}
            before = dict(state)
            yield state
            if state != before:
                tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_bytes(orjson.dumps(state))
                os.replace(tmp, path)
        finally:
            self._close(lock)


def _name(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest() + ".json"


def _entries(directory: Path) -> Iterator[Path]:
    try:
        with os.scandir(directory) as found:
            yield from (Path(e.path) for e in found if not e.name.startswith("."))
    except FileNotFoundError:
        return
