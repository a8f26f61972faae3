"""A service's runs in timeline order, from its compacts where a day has one.

The walk lists the timeline from its position. Where the next run's day has a compact (or is
closed and may get one now, within the page's budget), it reads the compact instead of the
day's index objects, then follows the compacts' chain (each knows the next older day that had
runs when it was made) without listing, until a day without a compact: it lists the timeline
again past the days it covered. A compact of day ``d`` whose next older day was ``o`` covers
every day after ``o`` up to ``d``: it holds every run of those days but the late ones
received after its cut, which the service's late entries give (:mod:`.late`), so a run is
given once, from its compact or from its late entry, or from its timeline entry in a day that
no compact covers.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator, Iterator, Sequence

from ..runstore.entries import DAY_MS, Entry, Summary, oldest_after, parse_timeline
from ..runstore.index import TIMELINE, ServiceRef
from .artifact import Compact
from .build import Compactor, day_of_ms
from .late import LateEntries
from .views import RunView, held_body

LAZY_DAYS = 2
"""Closed days a page may compact on its way: the first reads after a long time compact a
little each, ``reindex`` compacts them all."""

TimelineView = Callable[[str, Entry], RunView]
Impacts = Callable[[Summary], Sequence[str | None]]


class CompactedWalk:
    """One page's walk of one service's runs."""

    def __init__(
        self, compactor: Compactor, ref: ServiceRef, timeline: TimelineView, impacts: Impacts
    ) -> None:
        self.compactor = compactor
        self.ref = ref
        self.timeline = timeline
        self.storage = compactor.storage
        self.late = LateEntries(self.storage, compactor.root(ref), impacts)
        self.budget = LAZY_DAYS
        self._days: dict[int, str] | None = None
        self._read: dict[int, Compact | None] = {}

    def runs(self, after: str, stop: str | None) -> Iterator[RunView]:
        """The runs whose timeline names sort after ``after`` (up to ``stop``), in order."""
        base = self.ref.index_prefix(self.compactor.prefix) + TIMELINE
        position = after
        while True:
            relist = None
            for key in self.storage.list(base, base + position if position else ""):
                name = key[len(base) :]
                if stop is not None and name > stop:
                    return
                entry = parse_timeline(name)
                if entry is None:
                    continue
                compact = self._compact(day_of_ms(entry.time_ms))
                if compact is None:
                    yield self.timeline(name, entry)
                    position = name
                    continue
                relist = yield from self._chain(compact, position, stop)
                break
            if relist is None:
                return
            position = oldest_after(relist)

    def _chain(
        self, compact: Compact, after: str, stop: str | None
    ) -> Generator[RunView, None, int | None]:
        """The runs of the days ``compact`` covers and of the compacts older than it, without
        listing; the first millisecond of the newest day left to list, None when none is."""
        current: Compact | None = compact
        while current is not None:
            low = current.older_ms + DAY_MS if current.older_ms is not None else -1
            since = current.cut_ms - self.compactor.grace_ms
            late = self.late.missing(since, low, current.day_ms + DAY_MS, current.heads)
            held = (self._held(run_index, current) for run_index in range(len(current.runs)))
            for view in heapq.merge(held, late, key=lambda v: v.name):
                if view.name <= after:
                    continue
                if stop is not None and view.name > stop:
                    return None
                yield view
            if current.older_ms is None:
                return None
            older = current.older_ms
            current = self._compact(older)
            if current is None:
                # Past every day the chain covered: the next listing starts below them.
                return older + DAY_MS
        return None

    def _held(self, index: int, compact: Compact) -> RunView:
        run = compact.runs[index]
        entry = Entry(run.name, run.summary.time_ms, run.summary.run_id, run.summary)
        impacts = run.impacts
        return RunView(entry, held_body(run.summary, run.changes), lambda _: impacts)

    def _compact(self, day_ms: int) -> Compact | None:
        """The day's compact: stored, or made now if the day is closed and the budget allows."""
        if day_ms in self._read:
            return self._read[day_ms]
        if self._days is None:
            self._days = self.compactor.days(self.ref)
        key = self._days.get(day_ms)
        if key is not None:
            found = self.compactor.read(key)
        elif self.budget > 0 and self.compactor.closed(day_ms):
            self.budget -= 1
            found = self.compactor.make(self.ref, day_ms)
        else:
            found = None
        self._read[day_ms] = found
        return found
