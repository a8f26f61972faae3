"""What a compact holds, in a name: so that a page skips the days with nothing it wants
without reading them.

Beside each compact ``day/<day>``, ``day/<day>!<cut>!<older>!<runs>.<counts>.<bloom>``: its
cut and next older day (inverted, ``-`` for none), how many runs it holds, its changes counted
by severity (``total-high-medium-low-info``), and a 512-bit Bloom filter (128 hex digits) of the
change types and impacts of its changes, alone and with their severities. The name is a
function of the stored compact alone, so whoever writes it (the compact's maker, or anyone who
reads the compact later) writes the same one, once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product

from ..runstore.entries import SEVERITIES, Counts, inverted, uninverted
from .artifact import Compact

BLOOM_BITS = 512
_PROBES = 3

_MARKER = re.compile(
    r"^(?P<day>[0-9a-z]{12})!(?P<cut>[0-9a-z]{12})!(?P<older>[0-9a-z]{12}|-)!"
    r"(?P<runs>[0-9]{1,9})\.(?P<counts>(?:[0-9]{1,12}-){4}[0-9]{1,12})\.(?P<bloom>[0-9a-f]{128})$"
)


@dataclass(frozen=True, slots=True)
class Stats:
    """A compact's summary, as its marker's name holds it."""

    day_ms: int
    cut_ms: int
    older_ms: int | None
    runs: int
    counts: Counts
    bloom: int

    def name(self) -> str:
        """The marker's name under ``day/``."""
        older = inverted(self.older_ms) if self.older_ms is not None else "-"
        c = self.counts
        counts = f"{c.total}-{c.high}-{c.medium}-{c.low}-{c.info}"
        head = f"{inverted(self.day_ms)}!{inverted(self.cut_ms)}!{older}"
        return f"{head}!{self.runs}.{counts}.{self.bloom:0128x}"

    def may_match(
        self,
        severities: frozenset[str] | None,
        change_types: frozenset[str] | None,
        impacts: frozenset[str] | None,
    ) -> bool:
        """Whether the compact may hold a change these filters keep (never a false no)."""
        if (self.counts.of(severities) if severities else self.counts.total) == 0:
            return False
        if change_types is None and impacts is None:
            return True
        combos = product(
            sorted(severities or [""]), sorted(change_types or [""]), sorted(impacts or [""])
        )
        return any(
            all(self.bloom >> bit & 1 for bit in _bits(_token(*combo, severities is not None)))
            for combo in combos
        )


def parse_marker(name: str) -> Stats | None:
    """The stats a marker's name holds, or None if it is not a marker's name."""
    match = _MARKER.match(name)
    if match is None:
        return None
    older = None if match["older"] == "-" else uninverted(match["older"])
    return Stats(
        day_ms=uninverted(match["day"]),
        cut_ms=uninverted(match["cut"]),
        older_ms=older,
        runs=int(match["runs"]),
        counts=Counts(*(int(n) for n in match["counts"].split("-"))),
        bloom=int(match["bloom"], 16),
    )


def stats_of(compact: Compact) -> Stats:
    """The stats of a compact."""
    seen: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    bloom = 0
    total = 0
    for run in compact.runs:
        for index, change in enumerate(run.changes):
            total += 1
            severity = change.get("severity")
            if isinstance(severity, str) and severity in seen:
                seen[severity] += 1
            impact = run.impacts[index] if index < len(run.impacts) else None
            for tokens in _tokens(severity, change.get("change_type"), impact):
                for bit in _bits(tokens):
                    bloom |= 1 << bit
    counts = Counts(total=total, **seen)
    return Stats(compact.day_ms, compact.cut_ms, compact.older_ms, len(compact.runs), counts, bloom)


def _tokens(severity: object, change_type: object, impact: object) -> Iterable[str]:
    # Every combination a filter can ask for: a type, an impact, or both, with or without
    # a severity. Values that are not strings match no filter.
    s = severity if isinstance(severity, str) else "\0"
    t = change_type if isinstance(change_type, str) else ""
    i = impact if isinstance(impact, str) else ""
    for with_severity in (False, True):
        for combo in ((t, ""), ("", i), (t, i)):
            yield _token(s, *combo, with_severity)


def _token(severity: str, change_type: str, impact: str, with_severity: bool) -> str:
    return f"{severity if with_severity else ''}|{change_type}|{impact}"


def _bits(token: str) -> Iterable[int]:
    digest = hashlib.blake2b(token.encode(), digest_size=2 * _PROBES).digest()
    return (int.from_bytes(digest[n : n + 2]) % BLOOM_BITS for n in range(0, len(digest), 2))
