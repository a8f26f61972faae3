"""One organization's org graph, assembled from its snapshots and its append-only feed.

Writers never touch a shared object: each ingest creates one feed entry, and now and then a
process creates a new snapshot under a new key. A reader takes the newest snapshot, then
applies every feed entry written after its watermark minus the skew margin (the merge is
idempotent, so entries it already holds change nothing). The margin covers the clocks of the
processes that write the feed and the time between reading a clock and the create landing: an
entry named more than the margin before a snapshot's watermark, yet written after it was taken,
is not seen by readers of that snapshot (docs/lineage.md, "Concurrent ingests").

This process keeps what it assembled and, on each use, lists only the feed entries written
since (again from the margin on), so an ingest usually costs one listing and one read per new
entry, not a read of every service's graph.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import orjson

from ..errors import LineageObjectInvalid, ObjectExists, ObjectNotFound, StorageUnavailable
from ..lineage.edges import RunGraph
from ..lineage.graph import Location, OrgGraph
from ..storage import Storage
from . import keys
from .applied import AppliedEntries
from .state import Latest, entry_bytes, merge, parse_entry, parse_snapshot, snapshot_bytes

log = logging.getLogger(__name__)

MAX_DAYS_LISTED = 31
"""Past this many day directories since the last entry applied, one listing of the whole feed
costs fewer requests than one per day."""


@dataclass(frozen=True, slots=True)
class GraphVersion:
    """Which org graph an answer used: the snapshot it started from and the last feed entry."""

    snapshot: str | None
    through: str | None
    services: int

    def as_json(self) -> dict[str, Any]:
        """The version as answers and stored objects spell it."""
        return {"snapshot": self.snapshot, "through": self.through, "services": self.services}


@dataclass(frozen=True, slots=True)
class OwnEntry:
    """A feed entry this process writes: its name and what it holds."""

    name: str
    location: Location
    time_ms: int
    graph: RunGraph


class OrgFeed:
    """The feed and snapshots of one organization, and the graph this process assembled."""

    def __init__(
        self,
        storage: Storage,
        prefix: str,
        organization: str,
        *,
        skew_ms: int,
        snapshot_every: int,
        clock_ms: Callable[[], int],
        list_all: ListAll = None,
    ) -> None:
        self.storage = storage
        self.root = keys.org_root(prefix, organization)
        # A catch-up's listings (two per day: both layouts) at once where each is a round trip.
        self._list_all = list_all or _one_by_one
        self._skew_ms = skew_ms
        self._snapshot_every = snapshot_every
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._state: dict[Location, Latest] | None = None
        self._snapshot: str | None = None
        self._watermark = 0
        self._applied = AppliedEntries(skew_ms)
        """Feed entries applied whose time is within the margin of the newest: listed again."""
        self._through: str | None = None
        self._since_snapshot = 0
        self._graph: OrgGraph | None = None
        self._listed_at: int | None = None
        """When this process last listed the feed (its clock, ms)."""

    def append(
        self, location: Location, time_ms: int, graph: RunGraph, name: str | None = None
    ) -> str:
        """Add a run's graph to the feed, and to this process's graph; the entry's name."""
        names = append(
            self.storage,
            self.root,
            location,
            time_ms,
            graph,
            self._clock_ms(),
            name,
            landing=Landing(self._skew_ms // 2, self._clock_ms),
        )
        with self._lock:
            for written in names:
                self._apply_own(OwnEntry(written, location, time_ms, graph))
        return names[0]

    def _apply_own(self, own: OwnEntry) -> None:
        # Applied here rather than read back: the same entry, without a read and a check.
        if self._state is not None and own.name not in self._applied:
            self._applied.add(own.name)
            self._since_snapshot += 1
            if keys.is_newer(own.name, self._through):
                self._through = own.name
            latest = Latest(own.time_ms, own.graph.run_id, own.graph)
            self._merge(self._state, own.location, latest)

    def clock_ms(self) -> int:
        """This process's clock, as the feed reads it (ms since 1970)."""
        return self._clock_ms()

    def current(
        self, *, max_age_ms: int = 0, own: OwnEntry | None = None, listed_since: int | None = None
    ) -> tuple[OrgGraph, GraphVersion]:
        """The org graph with every feed entry written so far, and which version it is.

        With ``max_age_ms``, the feed is listed only if this process last listed it longer ago
        than that: the graph then holds every entry written up to that listing, and this
        process's own, at once (an ingest's view; a read lists every time). ``own`` is an
        entry this process is writing now: the graph holds it whether its create has landed
        or not. ``listed_since``: a listing begun at or after that moment is as good as one
        begun now (an ingest starts one before its claim, and uses it after).
        """
        with self._lock:
            if self._state is None:
                self._state = self._load_snapshot()
            now = self._clock_ms()
            listed = self._listed_at
            recent = listed is not None and listed_since is not None and listed >= listed_since
            if not recent and (listed is None or not 0 <= now - listed < max_age_ms):
                self._catch_up(self._state)
                self._listed_at = now
            if own is not None:
                self._apply_own(own)
            if self._since_snapshot >= self._snapshot_every:
                self._write_snapshot(self._state)
            if self._graph is None:
                self._graph = OrgGraph({loc: latest.graph for loc, latest in self._state.items()})
            version = GraphVersion(self._snapshot, self._through, len(self._state))
            return self._graph, version

    def runs(self) -> dict[Location, Latest]:
        """The latest run of each service as of the last :meth:`current`."""
        with self._lock:
            return dict(self._state or {})

    def _load_snapshot(self) -> dict[Location, Latest]:
        for key in self.storage.list(self.root + keys.SNAPSHOTS):
            try:
                watermark, state = parse_snapshot(self.storage.read(key))
            except (LineageObjectInvalid, ObjectNotFound) as exc:
                # An older snapshot and a longer feed give the same graph.
                _unreadable("lineage snapshot unreadable", key, exc)
                continue
            self._snapshot = key.rpartition("/")[2]
            self._watermark = watermark
            return state
        return {}

    def _listing(self) -> tuple[Iterator[str], int | None]:
        """The feed keys from the newest applied (or the watermark) minus the margin on.

        With that start, ``None`` for the whole feed; the caller drops the keys of entries
        written before it that a listing of the whole feed from there also finds.
        """
        feed = self.root + keys.FEED
        if not self._applied and not self._watermark:
            return self.storage.list(feed), None  # the first read of an org without a snapshot
        newest = self._applied.newest_ms
        start = (self._watermark if newest is None else newest) - self._skew_ms
        # Up to the margin past this clock: another process's clock may be ahead.
        end = self._clock_ms() + self._skew_ms
        if len(keys.feed_days(start, end)) > MAX_DAYS_LISTED:
            return self.storage.list(feed, feed + keys.feed_start(start)), start
        calls = [
            _listing_of(self.storage, feed + p, feed + a) for p, a in keys.feed_listings(start, end)
        ]
        return chain.from_iterable(self._list_all(calls)), start

    def _merge(self, state: dict[Location, Latest], location: Location, latest: Latest) -> None:
        """Merge one entry; the graph follows by a swap where it can, else is assembled anew."""
        if merge(state, location, latest) and self._graph is not None:
            self._graph = self._graph.with_run(location, latest.graph)

    def _catch_up(self, state: dict[Location, Latest]) -> None:
        feed = self.root + keys.FEED
        listed, start = self._listing()
        for name in self._applied.unseen(listed, len(feed)):
            if start is not None and keys.is_before(name, start):
                continue  # of the start's day, in an hour directory: listed from a flat name
            key = feed + name
            self._applied.add(name)
            self._since_snapshot += 1
            if keys.is_newer(name, self._through):
                self._through = name
            try:
                self._merge(state, *parse_entry(orjson.loads(self.storage.read(key))))
            except (LineageObjectInvalid, orjson.JSONDecodeError, ObjectNotFound) as exc:
                _unreadable("lineage feed entry unreadable", key, exc)
        self._applied.forget_old()

    def _write_snapshot(self, state: dict[Location, Latest]) -> None:
        watermark = keys.time_of(self._through) if self._through else self._watermark
        name = keys.newest_first_name(watermark)
        try:
            self.storage.create(self.root + keys.SNAPSHOTS + name, snapshot_bytes(watermark, state))
        except (ObjectExists, StorageUnavailable) as exc:
            # A snapshot only saves later readers work: without it the feed is read further.
            log.warning("lineage snapshot not written", extra={"fields": {"reason": str(exc)}})
            return
        self._snapshot, self._watermark, self._since_snapshot = name, watermark, 0


@dataclass(frozen=True, slots=True)
class Landing:
    """How late after the time in its name a feed entry may land, by this process's clock."""

    bound_ms: int
    clock_ms: Callable[[], int]


MAX_APPENDS = 3
"""Creates of one entry, the first included, before a writer gives up re-appending it."""


def append(
    storage: Storage,
    root: str,
    location: Location,
    time_ms: int,
    graph: RunGraph,
    now_ms: int,
    name: str | None = None,
    *,
    landing: Landing | None = None,
) -> list[str]:
    """Create the feed entry of a run's graph under the org root ``root``; the names written.

    Named by the time it is written, not the run's time: a reader's margin then only has to
    cover clocks and write delays, however old the run is. An ingest names it itself
    (:func:`keys.run_feed_name`), by the time its run was received, a moment earlier.

    With ``landing``, the write delay is bounded here rather than left to the readers' margin:
    an entry whose create returns later than ``landing.bound_ms`` after the time in its name
    may have landed behind a reader's listing, so it is created again under the time it
    landed (applying an entry twice changes nothing). Readers then need a margin of that
    bound plus the clock differences between processes, not of the slowest write.
    """
    names = [name or keys.feed_name(now_ms)]
    body = entry_bytes(location, time_ms, graph)
    storage.create(root + keys.FEED + names[0], body)
    while landing is not None and len(names) < MAX_APPENDS:
        landed = landing.clock_ms()
        if landed - keys.time_of(names[-1]) <= landing.bound_ms:
            break
        log.warning(
            "lineage feed entry landed late; appended again",
            extra={"fields": {"entry": names[-1], "late_ms": landed - keys.time_of(names[-1])}},
        )
        names.append(keys.feed_name(landed))
        storage.create(root + keys.FEED + names[-1], body)
    return names


ListAll = Callable[[Sequence[Callable[[], list[str]]]], list[list[str]]] | None
"""Runs listings, each a call, and gives their keys in order (``Writes.all``)."""


def _one_by_one(calls: Sequence[Callable[[], list[str]]]) -> list[list[str]]:
    return [call() for call in calls]


def _listing_of(storage: Storage, prefix: str, after: str) -> Callable[[], list[str]]:
    return lambda: list(storage.list(prefix, after))


def _unreadable(message: str, key: str, exc: Exception) -> None:
    log.error(message, extra={"fields": {"key": key, "reason": str(exc)}})
