"""A roll-up: the changes one filter token keeps, over consecutive compacted days, in one object.

Stored as lines: a head (the token, and per day, newest first: its first millisecond, the
names of the runs with a kept change, and the heads of the late-received runs its compact
held), then one line per run, as a compact stores it (:func:`.artifact.run_line`). A run keeps
its diff's length: a change the token does not keep is stored as ``{}`` with no impact, so
each kept change keeps its index, which the feed's items and cursors give.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..runstore.entries import inverted, uninverted
from ..runstore.integrity import Corrupt
from .artifact import CompactRun, parse_run, run_line

FORMAT = 1
ROLLUPS = "rollup/"

_NAME = re.compile(r"^(?P<oldest>[0-9a-z]{12})!(?P<newest>[0-9a-z]{12})$")


@dataclass(frozen=True, slots=True)
class Token:
    """What a roll-up keeps: the changes of one change type, or of one impact, or of both."""

    change_type: str | None
    impact: str | None

    @classmethod
    def of(
        cls, change_types: frozenset[str] | None, impacts: frozenset[str] | None
    ) -> Token | None:
        """The token of a page's filters, None unless they name one type and/or one impact."""
        if (change_types is None and impacts is None) or any(
            values is not None and len(values) != 1 for values in (change_types, impacts)
        ):
            return None
        return cls(min(change_types) if change_types else None, min(impacts) if impacts else None)

    @property
    def directory(self) -> str:
        """The name under ``rollup/`` of the token's roll-ups: any string may be a value."""
        text = orjson.dumps([self.change_type, self.impact])
        return hashlib.blake2b(text, digest_size=16).hexdigest()

    def keeps(self, change: Any, impact: str | None) -> bool:
        """Whether the token keeps a change of this impact."""
        kind = change.get("change_type") if isinstance(change, dict) else None
        return (self.change_type is None or kind == self.change_type) and (
            self.impact is None or impact == self.impact
        )

    def kept(self, run: CompactRun) -> CompactRun | None:
        """The run with only the changes the token keeps (``{}`` for the others); None if none."""
        changes: list[dict[str, Any]] = []
        impacts: list[str | None] = []
        for index, change in enumerate(run.changes):
            impact = run.impacts[index] if index < len(run.impacts) else None
            keep = self.keeps(change, impact)
            changes.append(change if keep else {})
            impacts.append(impact if keep else None)
        if not any(map(_is_kept, changes, impacts)):
            return None
        return CompactRun(run.name, run.summary, changes, impacts)


@dataclass(frozen=True, slots=True)
class Part:
    """One day of a roll-up: the runs with a kept change, and the late runs its compact held."""

    day_ms: int
    runs: Sequence[CompactRun]
    heads: frozenset[str] | None
    """The heads (:meth:`.scope.Scope.head`) of the late-received runs the day's compact held;
    None when the compact was not read (its marker said it keeps none of the token's
    changes), so a late entry of the day needs the compact read to be placed."""

    @property
    def kept(self) -> int:
        """How many changes of the day the token keeps."""
        return sum(sum(map(_is_kept, run.changes, run.impacts)) for run in self.runs)


@dataclass(frozen=True, slots=True)
class Rollup:
    """The parts of consecutive compacted days (as their compacts chain them), newest first."""

    token: Token
    parts: Sequence[Part]

    @property
    def name(self) -> str:
        """Its name under the token's directory: its oldest then its newest day, inverted."""
        return f"{inverted(self.parts[-1].day_ms)}!{inverted(self.parts[0].day_ms)}"

    def part(self, day_ms: int) -> Part | None:
        """The part of a day, None if the roll-up does not hold it."""
        return next((part for part in self.parts if part.day_ms == day_ms), None)

    def encode(self, location: Callable[[CompactRun], str]) -> bytes:
        """The stored body, each run's summary with its ``location``."""
        days = [
            {
                "day_ms": part.day_ms,
                "names": [run.name for run in part.runs],
                "heads": None if part.heads is None else sorted(part.heads),
            }
            for part in self.parts
        ]
        token = [self.token.change_type, self.token.impact]
        head = orjson.dumps({"format": FORMAT, "token": token, "days": days})
        runs = [run_line(run, location(run)) for part in self.parts for run in part.runs]
        return b"\n".join([head, *runs])


def _is_kept(change: Any, impact: str | None) -> bool:
    # A change left out is ``{}`` with no impact; a kept one has its type, or its impact.
    return bool(change) or impact is not None


def span(name: str) -> tuple[int, int] | None:
    """The oldest and newest day a roll-up's name says it holds, or None."""
    match = _NAME.match(name)
    if match is None:
        return None
    return uninverted(match["oldest"]), uninverted(match["newest"])


def decode(data: bytes, token: Token) -> Rollup:
    """The roll-up in a stored body, which must be of ``token``; or :class:`Corrupt`."""
    first, *lines = data.split(b"\n")
    try:
        head = orjson.loads(first)
        if head["format"] != FORMAT or head["token"] != [token.change_type, token.impact]:
            raise ValueError("not of this format and token")
        parts, at = [], 0
        for day in head["days"]:
            names, heads = day["names"], day["heads"]
            runs = [parse_run(orjson.loads(lines[at + n]), name) for n, name in enumerate(names)]
            at += len(names)
            found = None if heads is None else frozenset(str(h) for h in heads)
            parts.append(Part(int(day["day_ms"]), runs, found))
        if at != len(lines) or not parts:
            raise ValueError(f"{at} runs named for {len(lines)} stored")
        return Rollup(token, parts)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, Corrupt) as exc:
        raise Corrupt(f"not a roll-up: {exc!r}") from None
