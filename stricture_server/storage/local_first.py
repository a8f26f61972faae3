"""Reads that a local copy can answer: the mirror's read API while its object store is away.

The mirror's own listing is strict (:meth:`.mirror.MirrorStorage.list`): it merges the data
directory with the object store and is unavailable when the store is, because some callers
decide from it what the store holds. :class:`LocalFirst` is the same store for the read API
only: while the store is unavailable, a listing goes on from the local copy alone and the
request is noted as answered in part (:func:`noting`), which the app says in a response
header. Nothing that writes is ever given it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from dataclasses import dataclass
from typing import TypeVar

from ..errors import NotFoundLocally, StorageUnavailable
from .base import Storage

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class Partial:
    """Whether one request's reads were answered from the local copy alone, and why."""

    reason: str = ""
    """The object store's failure; empty while every read reached it."""


_current: ContextVar[Partial | None] = ContextVar("stricture_partial", default=None)


@contextmanager
def noting(partial: Partial) -> Iterator[None]:
    """Note in ``partial``, while open, whether a read was answered from the local copy alone."""
    token = _current.set(partial)
    try:
        yield
    finally:
        _current.reset(token)


def _note(reason: str) -> None:
    partial = _current.get()
    if partial is not None and not partial.reason:
        partial.reason = reason


def carried(function: Callable[[T], R]) -> Callable[[T], R]:
    """``function`` for a pool's threads, run in the caller's context so its notes count."""
    context = copy_context()

    def run(argument: T) -> R:
        # One copy per call: a context cannot be entered by two threads at once.
        return context.copy().run(function, argument)

    return run


class LocalFirst:
    """``store`` for reads, answered from ``local`` (its local copy) while it is unavailable.

    A listing merged with the object store, when the store fails before or during it, goes on
    from the local copy after the last key it gave; a key missing locally is not found. Either
    is noted. What only the object store holds is then missing from the answer, which is why
    the request is noted, and why no caller that decides what to write lists through this.
    """

    def __init__(self, store: Storage, local: Storage) -> None:
        self.store = store
        self.local = local

    def create(self, key: str, data: bytes) -> None:
        """The store's create (the read API never creates)."""
        self.store.create(key, data)

    def read(self, key: str) -> bytes:
        """The store's read; a key missing locally while the store is away is noted."""
        try:
            return self.store.read(key)
        except NotFoundLocally as exc:
            _note(exc.reason)
            raise

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """The store's listing, else from where it failed on, the local copy's."""
        last = start_after
        try:
            for key in self.store.list(prefix, start_after):
                yield key
                last = key
            return
        except StorageUnavailable as exc:
            _note(exc.reason)
        yield from self.local.list(prefix, last)
