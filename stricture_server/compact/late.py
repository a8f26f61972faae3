"""The late entries of a service, listed once per page, latest received first, as needed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from typing import Any

import orjson

from ..runstore.entries import Entry, Summary
from ..runstore.index import entry_of
from ..runstore.integrity import Corrupt
from ..storage import Storage
from .keys import LATE, LateName
from .scope import Scope
from .views import Impacts, RunView, held_body

log = logging.getLogger(__name__)


class LateEntries:
    """A service's late entries, listed lazily: a page that meets no compact lists none."""

    def __init__(self, storage: Storage, scope: Scope, impacts: Impacts) -> None:
        self.storage = storage
        self.scope = scope
        self.impacts = impacts
        self.base = scope.root + LATE
        self._listing: Iterator[str] | None = None
        self._seen: list[tuple[str, LateName]] = []
        self._heads: set[str] = set()
        self._oldest_ms: int | None = None
        """Received time of the last listed entry: every later one has been listed."""
        self._done = False

    def _received_since(self, threshold_ms: int) -> list[tuple[str, LateName]]:
        if self._listing is None:
            self._listing = iter(self.storage.list(self.base))
        while not self._done and (self._oldest_ms is None or self._oldest_ms >= threshold_ms):
            key = next(self._listing, None)
            if key is None:
                self._done = True
                break
            late = self.scope.parse_late(key[len(self.base) :])
            # A run's entry stored in both layouts (:mod:`.org_layout`) is given once.
            if late is not None and late.head not in self._heads:
                self._heads.add(late.head)
                self._seen.append((key, late))
                self._oldest_ms = late.received_ms
        return [(k, late) for k, late in self._seen if late.received_ms >= threshold_ms]

    def any_since(self, since_ms: int, low_ms: int, high_ms: int) -> bool:
        """Whether a late run received since ``since_ms`` has its time in
        ``[low_ms, high_ms)``."""
        return any(low_ms <= late.time_ms < high_ms for _, late in self._received_since(since_ms))

    def missing(
        self, since_ms: int, low_ms: int, high_ms: int, held_heads: frozenset[str]
    ) -> list[RunView]:
        """The late runs received since ``since_ms`` whose time is in ``[low_ms, high_ms)``
        and that are not among ``held_heads``: read now, in timeline order."""
        views = []
        for key, late in self._received_since(since_ms):
            if not low_ms <= late.time_ms < high_ms or late.head in held_heads:
                continue
            found = _late_run(key, self.storage.read(key), late, self.scope)
            if found is not None:
                summary, changes, name = found
                entry = Entry(name, summary.time_ms, summary.run_id, summary)
                impacts = partial(self.impacts, name)
                views.append((name, RunView(entry, held_body(summary, changes), impacts)))
        return [view for _, view in sorted(views, key=lambda pair: pair[0])]


def _late_run(
    key: str, data: bytes, late: LateName, scope: Scope
) -> tuple[Summary, list[dict[str, Any]], str] | None:
    try:
        body = orjson.loads(data)
        name = body["name"]
        summary, changes = entry_of(body)
        if not isinstance(name, str) or scope.entry(name) is None or scope.head(name) != late.head:
            raise Corrupt(f"name {name!r} is not its run's")
    except (Corrupt, ValueError, KeyError, TypeError) as exc:
        log.warning("corrupt late entry skipped", extra={"fields": {"key": key, "why": str(exc)}})
        return None
    return summary, changes, name
