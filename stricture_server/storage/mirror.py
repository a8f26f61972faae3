"""The ``mirror`` driver: acknowledged after a durable local write, copied to S3/R2 after."""

from __future__ import annotations

import heapq
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from ..errors import NotFoundLocally, ObjectExists, ObjectNotFound, StorageUnavailable
from ..settings import Settings
from .base import Renewing, Storage
from .fs import FileStorage
from .outbox import Entry, Outbox

log = logging.getLogger("stricture_server.replication")

POLL_SECONDS = 1.0
"""How often an idle replicator looks for entries queued by other processes."""

_CREATED, _PRESENT, _FAILED = "created", "present", "failed"


@dataclass(frozen=True, slots=True)
class Drained:
    """What one pass over the outbox did."""

    replicated: int
    """Objects this pass created in the object store."""
    failed: int
    unavailable: str
    """Why the pass stopped early because the object store failed; empty if it did not."""
    present: int = 0
    """Entries whose object the store already held, byte-identical (a replay, a redo)."""


class Replicator:
    """Copies every outbox entry's local object to the remote store, once, byte-identical."""

    def __init__(
        self, local: FileStorage, remote: Storage, outbox: Outbox, retry_max_seconds: float
    ) -> None:
        self.local = local
        self.remote = remote
        self.outbox = outbox
        self.retry_max_seconds = retry_max_seconds
        self.wake = threading.Event()
        self.stopping = threading.Event()

    def drain(self) -> Drained:
        """One pass over the pending entries; stops at the first store failure."""
        replicated = failed = present = 0
        unavailable = ""
        for path in self.outbox.pending():
            entry = self.outbox.take(path)
            if entry is None:
                continue  # another thread or process holds it, or finished it
            try:
                outcome = self._copy(entry)
                replicated += outcome == _CREATED
                present += outcome == _PRESENT
                failed += outcome == _FAILED
            except StorageUnavailable as exc:
                self.outbox.release(entry)
                unavailable = exc.reason
                break
        if replicated:
            self.outbox.note(replicated=replicated)
        if unavailable:
            self.outbox.note(error=unavailable)
        return Drained(replicated, failed, unavailable, present)

    def _copy(self, entry: Entry) -> str:
        try:
            data = self.local.read(entry.key)
        except ObjectNotFound:
            return self._fail(entry, "the local object is missing")
        outcome = _CREATED
        try:
            self.remote.create(entry.key, data)
        except ObjectExists:
            # Not counted again: the count is of objects copied, not of times queued.
            outcome = _PRESENT
            # Replication is idempotent: an earlier attempt (this one's lost answer, another
            # process, a crash before the entry was removed) may have stored it already.
            try:
                remote = self.remote.read(entry.key)
            except ObjectNotFound:
                raise StorageUnavailable(f"{entry.key}: exists and is missing remotely") from None
            if remote != data:
                return self._fail(entry, "the object store holds different bytes under this key")
        self.outbox.done(entry)
        return outcome

    def _fail(self, entry: Entry, error: str) -> str:
        log.error("replication conflict", extra={"fields": {"key": entry.key, "error": error}})
        self.outbox.fail(entry, error)
        self.outbox.note(error=f"{entry.key}: {error}")
        return _FAILED

    def run(self) -> None:
        """Drain until stopped: right after local writes, then on a poll, backing off on errors."""
        delay = 0.0
        while not self.stopping.is_set():
            try:
                result = self.drain()
            except Exception:
                log.exception("replication pass failed")
                result = Drained(0, 0, "internal error")
            if result.unavailable:
                if self.outbox.mark_behind(True):
                    log.warning("replication is behind", extra={"fields": self._fields(result)})
                delay = min(max(1.0, delay * 2), self.retry_max_seconds)
                # During an outage new writes must not cut the backoff short.
                self.stopping.wait(delay)
                continue
            # Recovered once a copy succeeds, or nothing is left: a pass that found every
            # entry held by another worker proves nothing. Idle passes skip the shared state.
            progress = result.replicated or result.present
            if (
                (delay or progress)
                and (progress or not self.outbox.pending())
                and self.outbox.mark_behind(False)
            ):
                log.info("replication recovered", extra={"fields": self._fields(result)})
            delay = 0.0
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()

    def _fields(self, result: Drained) -> dict[str, Any]:
        return {"reason": result.unavailable, "pending": len(self.outbox.pending())}


class MirrorStorage:
    """Local ``fs`` storage whose every object is also replicated to an object store.

    A create returns once the local object and its outbox entry are fsynced; replication
    follows. Reads are local first, then remote (a new data directory in front of a filled
    bucket still serves it); while the store is unavailable a key held locally is read from
    disk, and any other is not found (:class:`NotFoundLocally`). Listings are strict; the
    read API lists through :meth:`local_copy` as well (:mod:`.local_first`).
    """

    def __init__(self, local: FileStorage, remote: Storage, replicator: Replicator) -> None:
        self.local = local
        self.remote = remote
        self.replicator = replicator
        self._thread: threading.Thread | None = None
        # Built before a fork (gunicorn --preload, stricture_server.wsgi:app), the app's thread
        # stays in the parent: a child would queue entries and wake a thread it does not have.
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        replicating = self._thread is not None
        self.replicator.wake = threading.Event()
        self.replicator.stopping = threading.Event()
        self._thread = None
        if replicating:
            self.start_replication()

    def renew(self) -> None:
        """Renew the object store's client and guard; the local copy holds no such state."""
        if isinstance(self.remote, Renewing):
            self.remote.renew()

    def create(self, key: str, data: bytes) -> None:
        """Write locally, queue for replication, or :class:`ObjectExists`."""
        try:
            self.local.create(key, data)
        except ObjectExists:
            # A crash may have come between an earlier local write and its outbox entry:
            # queue it again (replication is idempotent) so nothing stored locally is missed.
            self.replicator.outbox.add(key)
            raise
        self.replicator.outbox.add(key)
        self.replicator.wake.set()

    def read(self, key: str) -> bytes:
        """The local bytes, else the object store's; not found if the store is unavailable."""
        try:
            return self.local.read(key)
        except ObjectNotFound:
            try:
                return self.remote.read(key)
            except StorageUnavailable as exc:
                raise NotFoundLocally(key, exc.reason) from None

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """Keys held locally or remotely, merged, in order.

        Unavailable when the store is: a listing of the local copy alone could miss what only
        the bucket holds, and some callers decide from a listing what the store holds (whether
        the name index is complete, what reindex and verify walk, whether a derived lineage
        object must be written).
        """
        merged = heapq.merge(
            self.local.list(prefix, start_after), self.remote.list(prefix, start_after)
        )
        for key, _ in groupby(merged):
            yield key

    def local_copy(self) -> Storage:
        """The data directory every object is written to first."""
        return self.local

    def start_replication(self) -> None:
        """Replicate in a background thread of this process (one per worker)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.replicator.run, name="stricture-replication", daemon=True
            )
            self._thread.start()

    def stop_replication(self) -> None:
        """Stop the background thread after its current pass."""
        self.replicator.stopping.set()
        self.replicator.wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def replication_status(self) -> dict[str, Any]:
        """Pending, replicated and failed counts, oldest pending age, last error."""
        return self.replicator.outbox.status()


def open_mirror_storage(settings: Settings) -> MirrorStorage:
    """The ``mirror`` driver: ``fs`` under the data directory, replicated to S3 or R2."""
    from .s3 import open_object_storage

    local = FileStorage(settings.data_dir)
    outbox = Outbox(local.root / ".outbox")
    remote = open_object_storage(settings, settings.mirror_target)
    replicator = Replicator(local, remote, outbox, settings.mirror_retry_max_seconds)
    return MirrorStorage(local, remote, replicator)
