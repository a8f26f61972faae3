"""A run as the change feed walks it, wherever it comes from: its timeline entry, a compact
or a late entry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..runstore.entries import Entry, Summary
from .artifact import Compact, CompactRun
from .scope import Scope
from .stats import Stats

Body = tuple[Summary, Sequence[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class RunView:
    """One run of a service's feed: its timeline entry's name, and how to get the rest."""

    entry: Entry
    body: Callable[[], Body | None]
    """Its summary and changes (None when its object is corrupt): may cost a read."""
    impacts: Callable[[Summary], Sequence[str | None]]
    """The impact of each of its changes by index: may cost a read."""

    @property
    def name(self) -> str:
        """Its timeline entry's name: its position in the feed."""
        return self.entry.name


Impacts = Callable[[str, Summary], Sequence[str | None]]
"""The impact of each change of the run an entry's name stands for, given its summary."""


def held_body(summary: Summary, changes: Sequence[dict[str, Any]]) -> Callable[[], Body]:
    """The ``body`` of a run whose summary and changes are already in hand."""
    return lambda: (summary, changes)


@dataclass(slots=True)
class Covered:
    """A compacted day met by a walk: its stats, and its compact once read."""

    key: str
    stats: Stats
    compact: Compact | None = None


def compact_view(scope: Scope, compact: Compact, index: int) -> RunView:
    """The run at ``index`` of a compact, parsed when its changes are wanted."""
    entry = _entry(scope, compact.names[index])

    def body() -> Body | None:
        run = compact.run(index)
        return (run.summary, run.changes) if run else None

    def impacts(_: Summary) -> Sequence[str | None]:
        run = compact.run(index)
        return run.impacts if run else []

    return RunView(entry, body, impacts)


def held_view(scope: Scope, run: CompactRun) -> RunView:
    """A run in hand (a roll-up's), as the feed walks it."""
    entry = _entry(scope, run.name)
    return RunView(entry, held_body(run.summary, run.changes), lambda _: run.impacts)


def _entry(scope: Scope, name: str) -> Entry:
    # A name the scope cannot parse is still walked, as a run of no known time.
    return scope.entry(name) or Entry(name, 0, "", None)
