"""The storage port: immutable objects under string keys, with one atomic create."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable


class Storage(Protocol):
    """An object store whose only write is create-if-absent.

    ``create`` raises :class:`~stricture_server.errors.ObjectExists` when the key is taken,
    ``read`` raises :class:`~stricture_server.errors.ObjectNotFound`, and any failure to
    reach the store is :class:`~stricture_server.errors.StorageUnavailable`. Nothing is ever
    overwritten or deleted.
    """

    def create(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` durably, atomically, only if ``key`` is free."""

    def read(self, key: str) -> bytes:
        """The bytes stored under ``key``."""

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """Every key that starts with ``prefix``, in lexical order, after ``start_after``.

        Lazy: a caller that stops early costs no more than the pages it consumed (on an
        object store, one request per 1000 keys).
        """


def exists(storage: Storage, key: str) -> bool:
    """Whether ``key`` is stored: one listing request, not a read of what may be 10 MB."""
    return next(iter(storage.list(key)), None) == key


@runtime_checkable
class Renewing(Protocol):
    """A store holding per-instance state: connections, a failure count, a cool-down."""

    def renew(self) -> None:
        """Drop open connections and start the state afresh (a process resumed from a snapshot)."""


@runtime_checkable
class Replicating(Protocol):
    """A store that copies its objects elsewhere in the background (the ``mirror`` driver)."""

    def start_replication(self) -> None:
        """Start copying in the background of this process."""

    def local_copy(self) -> Storage:
        """The store every object is written to first, which answers while the other is away."""

    def replication_status(self) -> dict[str, Any]:
        """Counts and ages of the replication, for ``GET /v1/replication``."""
