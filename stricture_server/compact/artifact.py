"""A compact: the runs of one service's closed UTC day, their changes and their impacts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..runstore.entries import Summary
from ..runstore.index import entry_of
from ..runstore.integrity import Corrupt

FORMAT = 1

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CompactRun:
    """One run as a compact holds it: its timeline name, summary, changes and their impacts."""

    name: str
    summary: Summary
    changes: Sequence[dict[str, Any]]
    impacts: Sequence[str | None]
    """The impact of each change by index; shorter (even empty) when its blast radius was not
    stored when the day was compacted, as the change feed reads it then."""


class Compact:
    """The runs of a day at the moment it was compacted, newest first.

    Stored as lines: a head (the day, the cut, the next older day and the runs' names), then
    one line per run. A page parses only the runs it reaches: a day of large diffs is
    megabytes of changes, most of them past the end of the page.
    """

    def __init__(
        self,
        day_ms: int,
        cut_ms: int,
        older_ms: int | None,
        names: Sequence[str],
        runs: Sequence[CompactRun | bytes],
    ) -> None:
        self.day_ms = day_ms
        """First millisecond of the day."""
        self.cut_ms = cut_ms
        """When the compaction listed the day: a run not in it is a late arrival."""
        self.older_ms = older_ms
        """First millisecond of the day of the newest run older than the day, at the cut
        (None: there was none). The days in between had no run then, and can only get late
        ones."""
        self.names = names
        """Each run's timeline name, in order."""
        self._runs: list[CompactRun | bytes | None] = list(runs)

    @classmethod
    def of(
        cls, day_ms: int, cut_ms: int, older_ms: int | None, runs: Sequence[CompactRun]
    ) -> Compact:
        """A compact of runs in hand."""
        return cls(day_ms, cut_ms, older_ms, [run.name for run in runs], runs)

    def run(self, index: int) -> CompactRun | None:
        """The run at ``index``, parsed now if it was not; None, logged, if it is corrupt."""
        found = self._runs[index]
        if isinstance(found, bytes):
            try:
                found = parse_run(orjson.loads(found), self.names[index])
            except (Corrupt, ValueError, KeyError, TypeError) as exc:
                log.warning("corrupt run in a compact skipped", extra={"fields": {"why": str(exc)}})
                found = None
            self._runs[index] = found
        return found

    @property
    def runs(self) -> list[CompactRun]:
        """Every sound run, all parsed."""
        return [run for index in range(len(self.names)) if (run := self.run(index)) is not None]

    def encode(self, location: Callable[[CompactRun], str]) -> bytes:
        """The compact's stored body, each run's summary with its ``location``."""
        head = {
            "format": FORMAT,
            "day_ms": self.day_ms,
            "cut_ms": self.cut_ms,
            "older_ms": self.older_ms,
            "names": self.names,
        }
        lines = [orjson.dumps(head)]
        lines.extend(run_line(run, location(run)) for run in self.runs)
        return b"\n".join(lines)


def run_line(run: CompactRun, location: str) -> bytes:
    """A run's stored line: its summary (with its ``location``), changes and impacts."""
    body = {
        "summary": run.summary.as_json(location),
        "changes": run.changes,
        "impacts": run.impacts,
    }
    return orjson.dumps(body)


def parse_run(body: Any, name: str) -> CompactRun:
    """The run a stored line holds (parsed), named ``name``; raises on a malformed one."""
    summary, changes = entry_of(body)
    impacts = body["impacts"]
    if not isinstance(impacts, list):
        raise TypeError("impacts is not a list")
    return CompactRun(name, summary, changes, impacts)


def decode(data: bytes) -> Compact:
    """The compact in a stored body (its runs parsed as they are read), or :class:`Corrupt`."""
    first, *lines = data.split(b"\n")
    try:
        head = orjson.loads(first)
        if head["format"] != FORMAT:
            raise ValueError(f"format {head['format']!r}")
        names = head["names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise TypeError("names is not a list of names")
        if len(names) != len(lines):
            raise ValueError(f"{len(names)} names for {len(lines)} runs")
        older = None if head["older_ms"] is None else int(head["older_ms"])
        return Compact(int(head["day_ms"]), int(head["cut_ms"]), older, names, lines)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Corrupt(f"not a compact: {exc!r}") from None
