"""Making compacts: a closed day's runs read once and stored in one immutable object.

A day is *closed* once it is over and a grace period has passed (``STRICTURE_SERVER_
COMPACT_GRACE_SECONDS``): every run received during the day has had its index objects stored
by then, so a compact made later holds them all, and a run that reaches it afterwards was
received after the day's end, and has a late entry (:mod:`.keys`). Whoever gets there first
(a read of the change feed, ``reindex``) makes the day's compact; the create is
create-if-absent on one name per day, so racing processes store exactly one, and the losers
use the winner's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from ..blast.impacts import impacts_in, stored_impacts
from ..errors import (
    LineageObjectInvalid,
    ObjectExists,
    ObjectNotFound,
    RecordCorrupt,
    RecordNotFound,
)
from ..runstore.entries import (
    DAY_MS,
    Entry,
    Summary,
    inverted,
    newest_before,
    oldest_after,
)
from ..runstore.index import TIMELINE, ServiceRef, sound_entry
from ..runstore.integrity import Corrupt
from ..runstore.records import RunIdentity
from ..storage import Storage
from .artifact import Compact, CompactRun, decode
from .feed_listing import entries
from .keys import DAYS, day_name_ms, org_feeds_complete_key, parse_day
from .scope import Scope
from .stats import Stats, parse_marker, stats_of

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Listed:
    """A compacted day as the listing shows it: its compact's key, and its stats if marked."""

    key: str
    stats: Stats | None


READ_JOBS = 10
"""Index objects read at once while compacting (botocore keeps 10 connections): one after the
other, a day of an object store would take as many round trips as it has runs."""

Clock = Callable[[], int]


def wall_clock() -> int:
    """Now, in milliseconds since 0001-01-01 UTC (as index times are)."""
    return time.time_ns() // 1_000_000 + UNIX_EPOCH_MS


UNIX_EPOCH_MS = 62_135_596_800_000
"""1970-01-01 in milliseconds since 0001-01-01 UTC."""


def day_of_ms(time_ms: int) -> int:
    """The first millisecond of the UTC day of ``time_ms``."""
    return time_ms - time_ms % DAY_MS


class Compactor:
    """Reads, makes and lists the compacts of services, for one store."""

    def __init__(
        self,
        storage: Storage,
        prefix: str,
        grace_ms: int,
        clock: Clock = wall_clock,
        blast_radius: Callable[[RunIdentity], bytes] | None = None,
        strict: Storage | None = None,
    ) -> None:
        self.storage = storage
        self.strict = strict or storage
        """What a compact is made from and stored in. The mirror's reads list its local copy
        while the object store is away; a compact made from that alone would miss runs for
        good, so it is made from the strict, merged listing (which fails in an outage)."""
        self.prefix = prefix
        self.grace_ms = grace_ms
        self.clock = clock
        self.blast_radius = blast_radius
        """A run's blast radius, computed and stored if it is missing (the server's): a
        compact is never rewritten, so it should not keep an impact unknown that a later read
        would know. Without it, the stored ones are used."""
        self._org_feeds_complete = False

    def org_feeds_complete(self) -> bool:
        """Whether every run of the store has its organization feed entry (remembered once
        seen): until then the org-wide feed is read service by service, and no organization
        compact is made, since one made now would miss older runs for good."""
        if not self._org_feeds_complete:
            try:
                self.storage.read(org_feeds_complete_key(self.prefix))
            except ObjectNotFound:
                return False
            self._org_feeds_complete = True
        return True

    def mark_org_feeds_complete(self) -> None:
        """Say, once and for good, that every run of the store has its organization entry."""
        with suppress(ObjectExists):
            self.strict.create(org_feeds_complete_key(self.prefix), b'{"complete":true}')
        self._org_feeds_complete = True

    def service(self, ref: ServiceRef) -> Scope:
        """The scope of a service's feed."""
        return Scope.of_service(self.prefix, ref)

    def organization(self, organization: str) -> Scope:
        """The scope of an organization's feed."""
        return Scope(self.prefix, organization)

    def key(self, scope: Scope, day_ms: int) -> str:
        """The key of the compact of a scope's day."""
        return scope.root + DAYS + day_name_ms(day_ms)

    def closed(self, day_ms: int) -> bool:
        """Whether a day is over, grace period included, so it may be compacted."""
        return self.clock() >= day_ms + DAY_MS + self.grace_ms

    def days(self, scope: Scope, newest_ms: int | None = None) -> Iterator[tuple[int, Listed]]:
        """The scope's compacted days (first millisecond), newest first, from the day of
        ``newest_ms`` on, each with its compact's key and its stats when its marker is stored.
        Lazy: one listing request per 500 days consumed."""
        base = scope.root + DAYS
        start = base + inverted(day_of_ms(newest_ms) + 1) if newest_ms is not None else ""
        pending: tuple[int, Listed] | None = None
        for key in self.storage.list(base, start):
            name = key[len(base) :]
            day = parse_day(name)
            if day is not None:
                if pending is not None:
                    yield pending
                pending = (day, Listed(key, None))
                continue
            stats = parse_marker(name)
            if stats is not None and pending is not None and stats.day_ms == pending[0]:
                pending = (pending[0], Listed(pending[1].key, stats))
        if pending is not None:
            yield pending

    def mark(self, scope: Scope, compact: Compact) -> Stats:
        """Store the marker of a stored compact, if it is not stored yet; its stats."""
        stats = stats_of(compact)
        with suppress(ObjectExists):
            self.strict.create(scope.root + DAYS + stats.name(), b"")
        return stats

    def read(self, key: str) -> Compact | None:
        """The compact stored under ``key``; None, logged, when it is corrupt."""
        try:
            return decode(self.storage.read(key))
        except Corrupt as exc:
            # The feed then reads the day's index objects, as if it had no compact.
            log.warning("corrupt compact skipped", extra={"fields": {"key": key, "why": str(exc)}})
            return None

    def make(self, scope: Scope, day_ms: int) -> Compact | None:
        """The day's compact, made and stored now; the stored one if another process stored
        it first. None when the day has no run, or its stored compact is corrupt."""
        cut_ms = self.clock()
        entries, older_ms = _day_entries(self.strict, scope, day_ms)
        if not entries:
            return None

        def run(entry: Entry) -> CompactRun | None:
            found = scope.run_of(entry.name)
            if found is None:
                return None
            ref, key = found.ref, found.ref.index_prefix(self.prefix) + TIMELINE + found.name
            summary, changes = entry.summary, []
            if summary is None or summary.counts is not None:
                try:
                    body = sound_entry(key, self.strict.read(key))
                except ObjectNotFound:
                    # An organization's feed entry whose timeline entry is not stored: a
                    # crashed ingest, completed by its replay, which the run then is.
                    body = None
                if body is None:
                    return None
                summary, changes = entry.summary or body[0], body[1]
            return CompactRun(entry.name, summary, changes, self._impacts(ref, summary, changes))

        with ThreadPoolExecutor(max_workers=READ_JOBS) as pool:
            runs = [r for r in pool.map(run, entries) if r is not None]
        compact = Compact.of(day_ms, cut_ms, older_ms, runs)
        key = self.key(scope, day_ms)

        def location(run: CompactRun) -> str:
            found = scope.run_of(run.name)
            return found.ref.run(run.summary.run_id).location if found else ""

        try:
            self.strict.create(key, compact.encode(location))
        except ObjectExists:
            stored = self.read(key)
            if stored is None:
                return None
            compact = stored
        # After the compact: a marker always names a stored compact. Made by every maker, the
        # loser of a race too, so a maker that stopped between the two leaves no day unmarked.
        self.mark(scope, compact)
        return compact

    def _impacts(
        self, ref: ServiceRef, summary: Summary, changes: list[dict[str, Any]]
    ) -> list[str | None]:
        if not changes:
            return []
        if self.blast_radius is None:
            return stored_impacts(self.storage, self.prefix, ref, summary)
        try:
            return impacts_in(self.blast_radius(ref.run(summary.run_id)))
        except (RecordNotFound, RecordCorrupt, LineageObjectInvalid):
            # Its record cannot give one: the impacts stay unknown, as the feed shows them.
            return stored_impacts(self.storage, self.prefix, ref, summary)

    def compact_service(self, ref: ServiceRef) -> int:
        """Make the compact of every closed day of the service that has none, and the marker
        of every compact that has none; how many compacts were made."""
        return self.compact(self.service(ref))

    def compact_organization(self, organization: str) -> int:
        """The same for an organization's feed: how many organization compacts were made."""
        return self.compact(self.organization(organization))

    def compact(self, scope: Scope) -> int:
        """Make the compact of every closed day of the scope that has none, and the marker of
        every compact that has none; how many compacts were made."""
        if scope.org_wide and not self.org_feeds_complete():
            return 0  # made now, it could miss older runs for good
        done = dict(self.days(scope))
        for listed in done.values():
            if listed.stats is None and (compact := self.read(listed.key)) is not None:
                self.mark(scope, compact)
        made = 0
        for day_ms in _days_listed(self.storage, scope):
            if day_ms not in done and self.closed(day_ms) and self.make(scope, day_ms):
                made += 1
        return made


def _day_entries(storage: Storage, scope: Scope, day_ms: int) -> tuple[list[Entry], int | None]:
    """The entries of a day, newest first, and the day of the next older run."""
    stop = oldest_after(day_ms)
    found: list[Entry] = []
    for entry in entries(storage, scope, newest_before(day_ms + DAY_MS - 1)):
        if entry.name > stop:
            return found, day_of_ms(entry.time_ms)
        found.append(entry)
    return found, None


def _days_listed(storage: Storage, scope: Scope) -> Iterator[int]:
    """Each day that has a run in a scope's entries, newest first, in one pass of them."""
    last = None
    for entry in entries(storage, scope, ""):
        if day_of_ms(entry.time_ms) != last:
            last = day_of_ms(entry.time_ms)
            yield last
