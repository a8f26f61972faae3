"""Where the lineage objects live. Every one is written once, with create-if-absent.

Under ``<prefix>/lineage/v1/org=<o>/``:

- ``feed/d=<UTC day>/h=<hour>/m=<minute>/s=<ten seconds>/<ms>-<id>.json``: one entry per
  ingested run, named by the time it was written (13-digit milliseconds, so names sort by
  time), holding the run's ``RunGraph``. An ingest names its run's entry by the time the run
  was received and a hash of the run's location (:func:`run_feed_names`), so the entry says
  the feed has the run. The hour, minute and ten-second directories keep a listing of recent
  entries, on ``fs``, to the ten seconds it touches, not the day. Earlier versions wrote the
  entries in the day's directory itself (``d=<day>/<ms>-<id>.json``, "flat"), and their
  processes still do during a rolling deploy: a reader lists both (:func:`feed_listings`). A
  flat name sorts before every ``h=`` name of its day, so the earlier versions' readers, which
  list the day from a flat name, see the entries of this layout too (docs/lineage.md, "The
  feed's layout");
- ``snapshots/<inverted ms>-<id>.json``: the latest ``RunGraph`` of every service as of a
  watermark; the inverted time makes the newest the first key listed;
- ``registry/<inverted ms>-<id>.json``: the versions of the system registry, newest first.

Beside each run's record (``.../date=<day>/run=<id>/``): ``blast-radius.json`` (the impact of
its changes) and, for a run whose feed entry was written late (by a replay or ``reindex``),
``lineage-graph.json`` (its ``RunGraph``), which then says the feed has the run.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

from ..runstore.entries import DAY_MS
from ..runstore.identity import new_run_id

MS_DIGITS = 13
"""Milliseconds since 1970 fit 13 digits until the year 2286."""
_LAST_MS: int = 10**MS_DIGITS - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

FEED = "feed/"
HOURS = "h="
"""How the hour directories of a day's feed entries begin; flat names begin with a digit."""
SNAPSHOTS = "snapshots/"
REGISTRY = "registry/"
RUN_GRAPH = "lineage-graph.json"
BLAST_RADIUS = "blast-radius.json"


def org_root(prefix: str, organization: str) -> str:
    """The key prefix of an organization's lineage objects."""
    root = f"{prefix}/" if prefix else ""
    return f"{root}lineage/v1/org={organization}/"


def feed_day(ms: int) -> str:
    """The day directory of the feed entries written at ``ms``, ``d=YYYY-MM-DD/``."""
    moment = datetime.fromtimestamp(max(ms, 0) / 1000, UTC)
    return f"d={moment.date().isoformat()}/"


def _digits(ms: int) -> str:
    return f"{max(ms, 0):0{MS_DIGITS}d}"


def entry_dirs(ms: int) -> str:
    """The directories of the feed entries written at ``ms``: ``d=YYYY-MM-DD/h=HH/m=MM/s=SS/``.

    ``SS`` is the first second of the entry's ten (00, 10, ... 50). On ``fs`` a catch-up reads
    whole the directory its start falls in: ten seconds of the organization's runs at most,
    whatever its rate before (a minute's would hold up to 70 s of a burst the margin is past).
    """
    moment = datetime.fromtimestamp(max(ms, 0) / 1000, UTC)
    tens = moment.second // 10 * 10
    return f"d={moment.date().isoformat()}/{HOURS}{moment:%H}/m={moment:%M}/s={tens:02d}/"


def feed_name(ms: int) -> str:
    """The name of a feed entry written at ``ms``: sorts by time, unique across processes."""
    return f"{entry_dirs(ms)}{_digits(ms)}-{new_run_id()}.json"


def run_feed_names(received_at: str, location: str) -> tuple[str, str]:
    """The names an ingest gives the feed entry of the run at ``location``: this version's first.

    Named by the time the run was received (RFC 3339, as its claim and record hold it), so a
    replay or ``reindex`` finds it again from the run alone, with one listing of its key; the
    second is the flat name earlier versions wrote.
    """
    moment = datetime.fromisoformat(received_at)
    ms = (moment - _EPOCH) // _MS
    entry = f"{_digits(ms)}-{hashlib.sha256(location.encode()).hexdigest()[:32]}.json"
    return f"{entry_dirs(ms)}{entry}", f"{feed_day(ms)}{entry}"


def run_feed_name(received_at: str, location: str) -> str:
    """The name of the feed entry an ingest writes for the run at ``location``."""
    return run_feed_names(received_at, location)[0]


def feed_start(ms: int) -> str:
    """The name every feed entry written at or after ``ms`` sorts after, in both layouts.

    So do this layout's entries of the same day written before: a whole-feed listing from it
    drops those (:func:`is_before`).
    """
    return f"{feed_day(ms)}{_digits(ms)}"


def is_before(name: str, ms: int) -> bool:
    """Whether the feed entry ``name`` was written before ``ms``."""
    return name.rpartition("/")[2][:MS_DIGITS] < _digits(ms)


def feed_days(first_ms: int, last_ms: int) -> list[str]:
    """The day directories from the one of ``first_ms`` to the one of ``last_ms``."""
    return [f"d={day}/" for day in _dates(first_ms, last_ms)]


def feed_listings(first_ms: int, last_ms: int) -> list[tuple[str, str]]:
    """The listings, ``(prefix, start after)`` under ``feed/``, of every entry written from
    ``first_ms`` to the end of the day of ``last_ms``, in both layouts.

    Per day: the hour directories from the minute of ``first_ms`` on, and the flat names, under
    a prefix of digits that leaves the hour directories out (on ``fs`` a listing then reads the
    day's directory, its hours, not every entry of the day).
    """
    hours, flat = f"{entry_dirs(first_ms)}{_digits(first_ms)}", feed_start(first_ms)
    listings: list[tuple[str, str]] = []
    for day in _dates(first_ms, last_ms):
        begins = (datetime(day.year, day.month, day.day, tzinfo=UTC) - _EPOCH) // _MS
        listings.extend(
            (f"d={day}/{digits}", flat)
            for digits in _digit_prefixes(max(first_ms, begins), begins + DAY_MS - 1)
        )
        listings.append((f"d={day}/{HOURS}", hours))
    return listings


def _dates(first_ms: int, last_ms: int) -> list[date]:
    first = datetime.fromtimestamp(max(first_ms, 0) / 1000, UTC).date()
    last = datetime.fromtimestamp(max(last_ms, 0) / 1000, UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _digit_prefixes(first_ms: int, last_ms: int) -> list[str]:
    """Prefixes that every 13-digit time from ``first_ms`` to ``last_ms`` starts with one of."""
    first, last = _digits(first_ms), _digits(last_ms)
    same = next((n for n, (a, b) in enumerate(zip(first, last, strict=True)) if a != b), None)
    common = first[:same]
    # Empty only in a day whose times change their first digit (2033-05-18 is one).
    return [common] if common else [str(d) for d in range(int(first[0]), int(last[0]) + 1)]


def newest_first_name(ms: int) -> str:
    """The name of a snapshot or registry version made at ``ms``: the newest lists first."""
    return f"{_LAST_MS - ms:0{MS_DIGITS}d}-{new_run_id()}.json"


def time_of(name: str) -> int:
    """The milliseconds a feed entry's name holds."""
    return int(name.rpartition("/")[2][:MS_DIGITS])


def is_newer(name: str, than: str | None) -> bool:
    """Whether the feed entry ``name`` is newer than ``than`` (by time, then name), or than none.

    By time, not name: within a day, a flat name sorts before every name in an hour
    directory, even those written before it.
    """
    return than is None or (time_of(name), name) > (time_of(than), than)


def beside(record_key: str, name: str) -> str:
    """The key of a derived object in the directory of the record at ``record_key``."""
    return f"{record_key.rpartition('/')[0]}/{name}"
