"""A compact: the runs of one service's closed UTC day, their changes and their impacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson

from ..runstore.entries import Summary
from ..runstore.index import ServiceRef, entry_of
from ..runstore.integrity import Corrupt
from .keys import head_of

FORMAT = 1


@dataclass(frozen=True, slots=True)
class CompactRun:
    """One run as a compact holds it: its timeline name, summary, changes and their impacts."""

    name: str
    summary: Summary
    changes: Sequence[dict[str, Any]]
    impacts: Sequence[str | None]
    """The impact of each change by index; shorter (even empty) when its blast radius was not
    stored when the day was compacted, as the change feed reads it then."""


@dataclass(frozen=True)
class Compact:
    """The runs of a day at the moment it was compacted, newest first."""

    day_ms: int
    """First millisecond of the day."""
    cut_ms: int
    """When the compaction listed the day: a run not in it is a late arrival."""
    older_ms: int | None
    """First millisecond of the day of the newest run older than the day, at the cut (None:
    there was none). The days in between had no run then, and can only get late ones."""
    runs: Sequence[CompactRun]

    @cached_property
    def heads(self) -> frozenset[str]:
        """The head of each run's timeline name: the runs it holds, exactly."""
        return frozenset(head_of(run.name) for run in self.runs)

    def encode(self, service: ServiceRef) -> bytes:
        """The compact's stored body."""
        runs = [
            {
                "name": run.name,
                "summary": run.summary.as_json(service.run(run.summary.run_id).location),
                "changes": run.changes,
                "impacts": run.impacts,
            }
            for run in self.runs
        ]
        body = {
            "format": FORMAT,
            "day_ms": self.day_ms,
            "cut_ms": self.cut_ms,
            "older_ms": self.older_ms,
            "runs": runs,
        }
        return orjson.dumps(body)


def decode(data: bytes) -> Compact:
    """The compact in a stored body, or :class:`Corrupt`."""
    try:
        body = orjson.loads(data)
        if body["format"] != FORMAT:
            raise ValueError(f"format {body['format']!r}")
        runs = []
        for run in body["runs"]:
            summary, changes = entry_of(run)
            impacts = run["impacts"]
            if not isinstance(impacts, list) or not isinstance(run["name"], str):
                raise TypeError("impacts or name")
            runs.append(CompactRun(run["name"], summary, changes, impacts))
        older = None if body["older_ms"] is None else int(body["older_ms"])
        return Compact(int(body["day_ms"]), int(body["cut_ms"]), older, runs)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Corrupt(f"not a compact: {exc!r}") from None
