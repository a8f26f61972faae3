"""A service's runs in timeline order, from its compacts where a day has one.

The walk lists the timeline from its position. Where the next run's day has a compact (or is
closed and may get one now, within the page's budget), it reads the compact instead of the
day's index objects, then follows the compacts' chain (each knows the next older day that had
runs when it was made) without listing, until a day without a compact: it lists the timeline
again past the days it covered. A compact of day ``d`` whose next older day was ``o`` covers
every day after ``o`` up to ``d``: it holds every run of those days but the late ones
received after its cut, which the service's late entries give (:mod:`.late`), so a run is
given once, from its compact or from its late entry, or from its timeline entry in a day that
no compact covers. A page whose filters name one change type or impact reads a day from the
roll-up that holds it (:mod:`.rollup`), which gives the day's runs that have such a change.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator, Iterable, Iterator

from ..errors import StorageUnavailable
from ..runstore.entries import (
    DAY_MS,
    Entry,
    newest_before,
    oldest_after,
    uninverted,
)
from .artifact import Compact
from .build import Compactor, Listed, day_of_ms
from .feed_listing import entries
from .late import LateEntries
from .rollup import Rollups
from .rollup_artifact import Token
from .scope import Scope
from .stats import Stats, stats_of
from .views import Covered, Impacts, RunView, compact_view, held_view

LAZY_DAYS = 2
"""Closed days a page may compact on its way: the first reads after a long time compact a
little each, ``reindex`` compacts them all."""

TimelineView = Callable[[str, Entry], RunView]
Wanted = Callable[[Stats], bool]


class CompactedWalk:
    """One page's walk of the runs of one scope: a service's, or an organization's."""

    def __init__(
        self,
        compactor: Compactor,
        scope: Scope,
        timeline: TimelineView,
        impacts: Impacts,
        token: Token | None = None,
    ) -> None:
        self.compactor = compactor
        self.scope = scope
        self.timeline = timeline
        self.storage = compactor.storage
        self.late = LateEntries(self.storage, scope, impacts)
        self.budget = LAZY_DAYS
        self._days: Iterator[tuple[int, Listed]] | None = None
        self._listing: dict[int, Listed] = {}
        self._listed_to: int | None = None
        self._known: dict[int, Covered | None] = {}
        self.rollups = (
            Rollups(compactor, scope, token, self._covered, self._load) if token else None
        )
        """Where the days of a page whose filters name one type or impact are read from."""

    def runs(self, after: str, stop: str | None, wanted: Wanted) -> Iterator[RunView]:
        """The runs whose timeline names sort after ``after`` (up to ``stop``), in order;
        ``wanted`` says from a compact's stats whether it may hold a change the page wants,
        and a compact that cannot is not read."""
        position = after
        within = _day_within(after)
        if within is not None and (day := self._covered(within)) is not None:
            # A position inside a compacted day (a cursor's): no listing of the timeline.
            relist = yield from self._chain(day, position, stop, wanted)
            if relist is None:
                return
            position = oldest_after(relist)
        while True:
            relist = None
            for entry in entries(self.storage, self.scope, position):
                name = entry.name
                if stop is not None and name > stop:
                    return
                day = self._covered(day_of_ms(entry.time_ms))
                if day is None:
                    yield self.timeline(name, entry)
                    position = name
                    continue
                relist = yield from self._chain(day, position, stop, wanted)
                break
            if relist is None:
                return
            position = oldest_after(relist)

    def _chain(
        self, day: Covered, after: str, stop: str | None, wanted: Wanted
    ) -> Generator[RunView, None, int | None]:
        """The runs of the days ``day`` covers and of the compacts older than it, without
        listing; the first millisecond of the newest day left to list, None when none is."""
        current: Covered | None = day
        while current is not None:
            stats = current.stats
            if stop is not None and newest_before(stats.day_ms + DAY_MS - 1) >= stop:
                return None  # the whole day is older than the page's ``from``
            low = stats.older_ms + DAY_MS if stats.older_ms is not None else -1
            since = stats.cut_ms - self.compactor.grace_ms
            high = stats.day_ms + DAY_MS
            late_any, want = self.late.any_since(since, low, high), wanted(stats)
            if late_any or want:
                found = self._day(current, late_any, want)
                if found is None:
                    # Corrupt: the day's index objects are read instead, from its newest.
                    return high
                held, heads = found
                late = self.late.missing(since, low, high, heads)
                for view in heapq.merge(held, late, key=lambda v: v.name):
                    if view.name <= after:
                        continue
                    if stop is not None and view.name > stop:
                        return None
                    yield view
            if stats.older_ms is None:
                return None
            older = stats.older_ms
            current = self._covered(older)
            if current is None:
                # Past every day the chain covered: the next listing starts below them.
                return older + DAY_MS
        return None

    def _day(
        self, day: Covered, late_any: bool, wanted: bool
    ) -> tuple[Iterable[RunView], frozenset[str]] | None:
        """A compacted day's runs, from the roll-up that holds it or from its compact, and the
        heads of the runs held (the late entries give the others); None if it is corrupt."""
        part = self.rollups.part(day, make=wanted) if self.rollups is not None else None
        if part is not None and (part.heads is not None or not late_any):
            return [held_view(self.scope, run) for run in part.runs], part.heads or frozenset()
        compact = self._load(day)
        if compact is None:
            return None
        heads = frozenset(self.scope.head(name) for name in compact.names)
        held = (compact_view(self.scope, compact, n) for n in range(len(compact.names)))
        return held, heads

    def _covered(self, day_ms: int) -> Covered | None:
        """The day's compact, as stats and a way to read it: stored, or made now if the day is
        closed and the page's budget allows; None if it has none."""
        if day_ms in self._known:
            return self._known[day_ms]
        listed = self._listed(day_ms)
        found: Covered | None = None
        if listed is not None and listed.stats is not None:
            found = Covered(listed.key, listed.stats)
        elif listed is not None:
            compact = self.compactor.read(listed.key)
            found = Covered(listed.key, stats_of(compact), compact) if compact else None
        elif self.budget > 0 and self.compactor.closed(day_ms):
            self.budget -= 1
            try:
                compact = self.compactor.make(self.scope, day_ms)
            except StorageUnavailable:
                # Made from the strict listing only (a mirror's object store is away): the
                # page reads the day's index objects, as for a day with no compact.
                compact = None
            key = self.compactor.key(self.scope, day_ms)
            found = Covered(key, stats_of(compact), compact) if compact else None
        self._known[day_ms] = found
        return found

    def _listed(self, day_ms: int) -> Listed | None:
        """The day as the listing of compacted days shows it, listed from the first day asked
        for on: the walk only ever asks for older days after it."""
        if self._days is None:
            self._days = self.compactor.days(self.scope, day_ms)
        while self._listed_to is None or self._listed_to > day_ms:
            found = next(self._days, None)
            if found is None:
                self._listed_to = -1
                break
            self._listed_to = found[0]
            self._listing[found[0]] = found[1]
        return self._listing.get(day_ms)

    def _load(self, day: Covered) -> Compact | None:
        if day.compact is None:
            day.compact = self.compactor.read(day.key)
            if day.compact is None:
                self._known[day.stats.day_ms] = None
        return day.compact


def _day_within(position: str) -> int | None:
    """The day whose runs come first after a listing position, if it says (not at the top)."""
    if len(position) < 12:
        return None
    try:
        time_ms = uninverted(position[:12])
    except ValueError:
        return None
    # ``newest_before(ms)`` ends in "~" and is followed by the runs at ``ms`` and before; a
    # cursor's position (its run's name, cut short) by its run, at ``time_ms``.
    return day_of_ms(time_ms - 1 if position.endswith("~") else time_ms)
