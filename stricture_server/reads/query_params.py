"""Query-string parameters of the read API, parsed strictly: anything unexpected is a 400."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from ..errors import InvalidInput, Problem
from ..ingest.validation import load_schema
from ..lineage.impact import IMPACTS
from ..runstore.entries import day_bounds

Args = Mapping[str, Sequence[str]]
"""Query parameters as parsed from the URL: every value of every name."""

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_LIMIT = re.compile(r"^[0-9]{1,6}$")
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")
# The filters accept what a stored change may hold: the diff schema's severity enum and its
# change_type pattern. change_type has no enum: the schema leaves the types open (the real
# diffs hold types beyond any list), so a well-formed type no diff has finds nothing.
_CHANGE = load_schema("diff")["$defs"]["change"]["properties"]
SEVERITY_VALUES: tuple[str, ...] = tuple(_CHANGE["severity"]["enum"])
_CHANGE_TYPE = re.compile(_CHANGE["change_type"]["pattern"])


@dataclass(frozen=True, slots=True)
class Query:
    """A listing request: a page size, where to resume, and filters."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    start_ms: int | None = None
    """First millisecond of ``from`` (UTC), inclusive."""
    end_ms: int | None = None
    """Last millisecond of ``to`` (UTC), inclusive."""
    commit_sha: str | None = None
    severities: frozenset[str] | None = None
    change_types: frozenset[str] | None = None
    impacts: frozenset[str] | None = None
    """The impact classes of the change feed's ``impact`` filter (docs/lineage.md)."""

    def in_range(self, time_ms: int) -> bool:
        """Whether a run at ``time_ms`` is within ``from`` and ``to``."""
        return (self.start_ms is None or time_ms >= self.start_ms) and (
            self.end_ms is None or time_ms <= self.end_ms
        )


NONE: tuple[str, ...] = ()
"""The parameters of a record read (``.../{run_id}`` and ``.../latest``): none."""
PAGE = ("limit", "cursor")
RUNS = (*PAGE, "from", "to", "commit_sha")
CHANGES = (*PAGE, "from", "to", "severity", "change_type", "impact")


def parse(args: Args, allowed: Sequence[str]) -> Query:
    """The query in ``args``, or :class:`InvalidInput` listing every bad parameter."""
    values, problems = single_values(args, allowed)
    first = _day(values, "from", problems)
    last = _day(values, "to", problems)
    if first and last and first > last:
        problems.append(Problem("?from", f"from {first} is after to {last}"))
    limit = DEFAULT_LIMIT
    if "limit" in values:
        text = values["limit"]
        if not _LIMIT.match(text) or not 1 <= int(text) <= MAX_LIMIT:
            problems.append(Problem("?limit", f"{text!r} is not a whole number 1 to {MAX_LIMIT}"))
        else:
            limit = int(text)
    commit = values.get("commit_sha")
    if commit is not None and not _COMMIT.match(commit):
        problems.append(Problem("?commit_sha", f"{commit!r} is not 7 to 64 hex digits"))
    severities = _words(values, "severity", SEVERITY_VALUES.__contains__, problems)
    change_types = _words(values, "change_type", _is_change_type, problems)
    impacts = _words(values, "impact", IMPACTS.__contains__, problems)
    if problems:
        raise InvalidInput("invalid query parameters", problems)
    start_ms, end_ms = day_bounds(first, last)
    return Query(
        limit=limit,
        cursor=values.get("cursor"),
        start_ms=start_ms,
        end_ms=end_ms,
        commit_sha=commit.lower() if commit else None,
        severities=severities,
        change_types=change_types,
        impacts=impacts,
    )


def single_values(args: Args, allowed: Sequence[str]) -> tuple[dict[str, str], list[Problem]]:
    """The value of each ``allowed`` parameter given once, and a problem for every other."""
    problems: list[Problem] = []
    values: dict[str, str] = {}
    known = f"known: {', '.join(allowed)}" if allowed else "this endpoint takes none"
    for name, given in args.items():
        if name not in allowed:
            problems.append(Problem(f"?{name}", f"unknown parameter; {known}"))
        elif len(given) != 1:
            problems.append(Problem(f"?{name}", "given more than once"))
        else:
            values[name] = given[0]
    return values, problems


def _day(values: dict[str, str], name: str, problems: list[Problem]) -> date | None:
    text = values.get(name)
    if text is None:
        return None
    try:
        if not _DATE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        problems.append(Problem(f"?{name}", f"{text!r} is not a date YYYY-MM-DD"))
        return None


def _is_change_type(word: str) -> bool:
    # fullmatch: JSON Schema's "$" does not match before a final newline, Python's does.
    return _CHANGE_TYPE.fullmatch(word) is not None


def _words(
    values: dict[str, str], name: str, known: Callable[[str], bool], problems: list[Problem]
) -> frozenset[str] | None:
    text = values.get(name)
    if text is None:
        return None
    words = frozenset(w.strip() for w in text.split(","))
    wrong = sorted(w for w in words if not known(w))
    if wrong:
        problems.append(Problem(f"?{name}", f"not accepted: {', '.join(map(repr, wrong))}"))
    return words
