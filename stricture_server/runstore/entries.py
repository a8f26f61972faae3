"""Index entry names: a run's summary encoded in a key that sorts newest first.

A timeline entry is named ``<time>!<received>!<run_id>!<summary>``:

- ``<time>`` is the run's time (``generated_at``, else ``received_at``) and ``<received>`` its
  ``received_at``, each in milliseconds since 0001-01-01 UTC, *inverted* (subtracted from
  ``36**12 - 1``) and written as 12 base-36 digits, so that lexical order is newest first;
- ``<run_id>`` is the sanitised run id (``[a-z0-9-]``), and ``!`` sorts before every character
  it may hold, so equal times order by run id, ascending;
- ``<summary>`` is ``<g|r>.<commit_sha>.<total>-<high>-<medium>-<low>-<info>``: whether the time
  is ``generated_at`` (``g``) or ``received_at`` (``r``), the commit (may be empty) and the
  diff's severity counts (empty when the run has no diff); or ``b`` when the whole name would be
  longer than :data:`NAME_BUDGET`, and then the summary is only in the object's body.

A commit entry is the same name behind ``<commit_sha>!``. Every character is one that S3
documents as safe in keys (``[0-9a-z!.-]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

NAME_BUDGET = 255
"""Longest entry name: a file name on most filesystems is at most 255 bytes."""

SEVERITIES = ("high", "medium", "low", "info")

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_WIDTH = 12
_TOP: int = 36**_WIDTH - 1
_ORIGIN = datetime(1, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
DAY_MS = 86_400_000
"""Milliseconds in a UTC day."""

_TIMELINE = re.compile(
    r"^(?P<time>[0-9a-z]{12})!(?P<received>[0-9a-z]{12})!(?P<run_id>[a-z0-9-]{1,128})!"
    r"(?:b|(?P<source>[gr])\.(?P<commit>[0-9a-f]{0,64})\.(?P<counts>(?:[0-9]{1,12}-){4}[0-9]{1,12})?)$"
)
_COMMIT = re.compile(r"^(?P<commit>[0-9a-f]{7,64})!(?P<rest>.+)$")


@dataclass(frozen=True, slots=True)
class Counts:
    """A diff's changes counted by severity."""

    total: int
    high: int
    medium: int
    low: int
    info: int

    def as_json(self) -> dict[str, int]:
        """The counts as the API shows them."""
        return {
            "total": self.total,
            "high": self.high,
            "medium": self.medium,
            "low": self.low,
            "info": self.info,
        }

    def of(self, severities: frozenset[str]) -> int:
        """How many changes have one of ``severities``."""
        return sum(int(getattr(self, s)) for s in severities)


@dataclass(frozen=True, slots=True)
class Summary:
    """What an index entry says about a run."""

    run_id: str
    time_ms: int
    received_ms: int
    generated: bool
    commit_sha: str | None
    counts: Counts | None

    def as_json(self, location: str) -> dict[str, object]:
        """The run summary as the API shows it."""
        return {
            "run_id": self.run_id,
            "commit_sha": self.commit_sha,
            "generated_at": format_ms(self.time_ms) if self.generated else None,
            "received_at": format_ms(self.received_ms),
            "location": location,
            "severity_counts": self.counts.as_json() if self.counts else None,
        }


@dataclass(frozen=True, slots=True)
class Entry:
    """A parsed entry name; ``summary`` is None when it is only in the object's body."""

    name: str
    time_ms: int
    run_id: str
    summary: Summary | None


def to_ms(moment: datetime) -> int:
    """Milliseconds from 0001-01-01 UTC to ``moment`` (an aware time), rounded down."""
    return (moment - _ORIGIN) // _MS


def format_ms(ms: int) -> str:
    """RFC 3339 in UTC with milliseconds, like every time the server writes."""
    moment = _ORIGIN + timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day_of(ms: int) -> date:
    """The UTC date of a time in milliseconds."""
    return (_ORIGIN + timedelta(milliseconds=ms)).date()


def day_bounds(first: date | None, last: date | None) -> tuple[int | None, int | None]:
    """The first and last millisecond of an inclusive range of UTC days."""
    start = _day_start(first) if first else None
    # Counted in whole days, not as "the next midnight minus 1 ms": 9999-12-31 has no next
    # day in Python, and that date is a valid ``to``.
    end = _day_start(last) + DAY_MS - 1 if last else None
    return start, end


def _day_start(day: date) -> int:
    return (day - _ORIGIN.date()).days * DAY_MS


def inverted(ms: int) -> str:
    """``ms`` inverted and in fixed-width base 36: later times sort first."""
    value = _TOP - ms
    digits = []
    for _ in range(_WIDTH):
        value, rest = divmod(value, 36)
        digits.append(_DIGITS[rest])
    return "".join(reversed(digits))


def uninverted(text: str) -> int:
    """The milliseconds an :func:`inverted` text stands for."""
    return _TOP - int(text, 36)


def newest_before(ms: int) -> str:
    """A name that sorts just before every entry at or before ``ms`` (a ``start_after``)."""
    return inverted(ms + 1) + "~"


def oldest_after(ms: int) -> str:
    """A name that sorts after every entry at or after ``ms`` (stop once past it)."""
    return inverted(ms) + "~"


def timeline_name(summary: Summary) -> str:
    """The entry's name in the service's timeline."""
    head = f"{inverted(summary.time_ms)}!{inverted(summary.received_ms)}!{summary.run_id}!"
    counts = summary.counts
    numbers = (
        f"{counts.total}-{counts.high}-{counts.medium}-{counts.low}-{counts.info}" if counts else ""
    )
    name = f"{head}{'g' if summary.generated else 'r'}.{summary.commit_sha or ''}.{numbers}"
    return name if len(name) <= NAME_BUDGET else head + "b"


def commit_name(summary: Summary, commit_sha: str) -> str:
    """The entry's name in the service's commit index."""
    name = f"{commit_sha}!{timeline_name(summary)}"
    if len(name) <= NAME_BUDGET:
        return name
    return f"{commit_sha}!{inverted(summary.time_ms)}!{inverted(summary.received_ms)}!" + (
        f"{summary.run_id}!b"
    )


def parse_timeline(name: str) -> Entry | None:
    """The entry a timeline name stands for, or None if it is not one."""
    match = _TIMELINE.match(name)
    if match is None:
        return None
    time_ms = uninverted(match["time"])
    run_id = match["run_id"]
    summary = None
    if match["source"]:
        counts = match["counts"]
        summary = Summary(
            run_id=run_id,
            time_ms=time_ms,
            received_ms=uninverted(match["received"]),
            generated=match["source"] == "g",
            commit_sha=match["commit"] or None,
            counts=Counts(*(int(n) for n in counts.split("-"))) if counts else None,
        )
    return Entry(name, time_ms, run_id, summary)


def parse_commit(name: str) -> Entry | None:
    """The entry a commit-index name stands for, or None if it is not one."""
    match = _COMMIT.match(name)
    if match is None:
        return None
    entry = parse_timeline(match["rest"])
    if entry is None:
        return None
    return Entry(name, entry.time_ms, entry.run_id, entry.summary)
