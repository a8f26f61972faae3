"""Roll-ups, found and made for one page: a sparse filter's changes of many days in one read.

A page whose filters name one change type and/or one impact (a *token*) reads, for a day its
marker says may hold such a change, the roll-up of the token that holds the day, instead of
the day's compact. A roll-up holds the kept changes of consecutive compacted days (as their
compacts chain them: :mod:`.walk`), from its newest day down to the first day after which the
older days hold :data:`KEPT` changes, or to the end of the chain. None holds the day: the page
makes one that starts there, from the days' compacts (a day whose marker says it keeps none
is not read) and from the stored roll-ups that hold the older days, so that a new day's
roll-up reads one compact and a roll-up or two. It is stored with create-if-absent under
its oldest and newest day, never rewritten; two processes that make the same one store one.

A roll-up changes no answer: it gives a day's runs that have a kept change, as the compact
does with the others' changes left out, and the late runs come from the late entries as for a
day (its part keeps the heads of the late runs the compact held).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import islice

from ..errors import ObjectExists, ObjectNotFound, StorageUnavailable
from ..runstore.entries import inverted
from ..runstore.integrity import Corrupt
from .artifact import Compact, CompactRun
from .build import Compactor
from .keys import is_late_name
from .rollup_artifact import ROLLUPS, Part, Rollup, Token, decode, span
from .scope import Scope
from .views import Covered

log = logging.getLogger(__name__)

KEPT = 1000
"""Kept changes a new roll-up holds, past its newest day, once the history has them: a page of
the largest size (``limit=1000``) that starts anywhere in its newest day is in it."""
READS = 60
"""Compacts a page reads at most to make a roll-up: the first page of a long history of a
sparse token makes a roll-up of two months; the next pages make the next."""
LISTED = 1000
"""The token's roll-ups a page lists (one request): those with an oldest day before its own."""

Covering = Callable[[int], Covered | None]
Load = Callable[[Covered], Compact | None]


class Rollups:
    """The roll-ups of one token in one scope, as one page finds, reads and makes them."""

    def __init__(
        self, compactor: Compactor, scope: Scope, token: Token, covered: Covering, load: Load
    ) -> None:
        self.compactor = compactor
        self.scope = scope
        self.token = token
        self.covered = covered
        self.load = load
        self.base = scope.root + ROLLUPS + token.directory + "/"
        self._listed: list[tuple[int, int, str]] | None = None
        self._rollups: dict[str, Rollup | None] = {}

    def part(self, day: Covered, make: bool) -> Part | None:
        """The day's part of the roll-up that holds it; made now if none does and ``make``."""
        day_ms = day.stats.day_ms
        found = self._find(day_ms)
        if found is None and make:
            found = self._make(day)
        return found.part(day_ms) if found is not None else None

    def _find(self, day_ms: int) -> Rollup | None:
        if self._listed is None:
            # Listed from the first day asked: the page asks only for older days after it.
            listing = self.compactor.storage.list(self.base, self.base + inverted(day_ms + 1))
            self._listed = []
            for key in islice(listing, LISTED):
                found = span(key[len(self.base) :])
                if found is not None:
                    self._listed.append((*found, key))
        for oldest, newest, key in self._listed:
            if oldest <= day_ms <= newest:
                rollup = self._read(key)
                if rollup is not None and rollup.part(day_ms) is not None:
                    return rollup
        return None

    def _read(self, key: str) -> Rollup | None:
        if key not in self._rollups:
            try:
                self._rollups[key] = decode(self.compactor.storage.read(key), self.token)
            except (Corrupt, ObjectNotFound) as exc:
                # The page reads the days' compacts instead, as if there were no roll-up.
                log.warning("roll-up skipped", extra={"fields": {"key": key, "why": str(exc)}})
                self._rollups[key] = None
        return self._rollups[key]

    def _make(self, start: Covered) -> Rollup | None:
        parts: list[Part] = []
        kept = reads = 0
        current: Covered | None = start
        while current is not None and kept < KEPT:
            stats = current.stats
            held = self._find(stats.day_ms) if current is not start else None
            part = held.part(stats.day_ms) if held is not None else None
            if part is None:
                if reads == READS:
                    break
                part = self._part_of(current)
                if part is None:
                    break  # a corrupt compact: the page reads the day's index objects
                reads += part.heads is not None
            parts.append(part)
            kept += part.kept if current is not start else 0
            current = self.covered(stats.older_ms) if stats.older_ms is not None else None
        if not parts:
            return None
        rollup = Rollup(self.token, parts)
        key = self.base + rollup.name
        try:
            self.compactor.strict.create(key, rollup.encode(self._location))
        except ObjectExists:
            rollup = self._read(key) or rollup
        except StorageUnavailable:
            pass  # made from whole compacts: used by this page, stored by a later one
        assert self._listed is not None
        self._listed.insert(0, (parts[-1].day_ms, parts[0].day_ms, key))
        self._rollups[key] = rollup
        return rollup

    def _part_of(self, day: Covered) -> Part | None:
        """A day's part, from its compact; not read when its marker says it keeps nothing."""
        stats = day.stats
        kinds = None if self.token.change_type is None else frozenset([self.token.change_type])
        impacts = None if self.token.impact is None else frozenset([self.token.impact])
        if not stats.may_match(None, kinds, impacts):
            return Part(stats.day_ms, [], None)
        compact = self.load(day)
        if compact is None:
            return None
        runs = [kept for run in compact.runs if (kept := self.token.kept(run)) is not None]
        heads = frozenset(self.scope.head(name) for name in compact.names if _late(name))
        return Part(stats.day_ms, runs, heads)

    def _location(self, run: CompactRun) -> str:
        found = self.scope.run_of(run.name)
        return found.ref.run(run.summary.run_id).location if found else ""


def _late(name: str) -> bool:
    """Whether the run an entry's name stands for was received after its day."""
    try:
        return is_late_name(name)
    except ValueError:
        return True  # kept among the heads: a head too many excludes no late entry
