"""Where the lineage objects live. Every one is written once, with create-if-absent.

Under ``<prefix>/lineage/v1/org=<o>/``:

- ``feed/d=<UTC day>/<7 digits>/<9 digits>/<ms>-<id>.json``: one entry per ingested run,
  named by the time it was written (13-digit milliseconds, so names sort by time), holding the
  run's ``RunGraph``. An ingest names its run's entry by the time the run was received and a
  hash of the run's location (:func:`run_feed_name`), so the entry says the feed has the run.
  The two directories under the day are named by the first 7 and 9 digits of the names they
  hold (1,000 s and 10 s of entries), so a listing from a recent time reads a few small
  directories on ``fs``, not the day's. Earlier versions wrote the entries in the day's
  directory itself (``d=<day>/<ms>-<id>.json``, "flat"), and may still during a rolling
  deploy: a flat name sorts right after the directory named by its own first 7 digits, so
  one listing from :func:`feed_start` finds both layouts (docs/lineage.md, "Stored objects");
- ``snapshots/<inverted ms>-<id>.json``: the latest ``RunGraph`` of every service as of a
  watermark; the inverted time makes the newest the first key listed;
- ``registry/<inverted ms>-<id>.json``: the versions of the system registry, newest first.

Beside each run's record (``.../date=<day>/run=<id>/``): ``blast-radius.json`` (the impact of
its changes) and, for a run whose feed entry was written late (by a replay or ``reindex``),
``lineage-graph.json`` (its ``RunGraph``), which then says the feed has the run.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from ..runstore.identity import new_run_id

MS_DIGITS = 13
"""Milliseconds since 1970 fit 13 digits until the year 2286."""
BUCKET_DIGITS = (7, 9)
"""The directories of an entry under its day: its name's first 7, then first 9 digits."""
_LAST_MS: int = 10**MS_DIGITS - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

FEED = "feed/"
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
    """The directories of the feed entries named ``ms``: ``d=YYYY-MM-DD/<7 digits>/<9 digits>/``."""
    digits = _digits(ms)
    return feed_day(ms) + "".join(f"{digits[:n]}/" for n in BUCKET_DIGITS)


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
    ms = (moment - _EPOCH) // timedelta(milliseconds=1)
    entry = f"{_digits(ms)}-{hashlib.sha256(location.encode()).hexdigest()[:32]}.json"
    return f"{entry_dirs(ms)}{entry}", f"{feed_day(ms)}{entry}"


def run_feed_name(received_at: str, location: str) -> str:
    """The name of the feed entry an ingest writes for the run at ``location``."""
    return run_feed_names(received_at, location)[0]


def feed_start(ms: int) -> str:
    """The name every feed entry written at or after ``ms`` sorts after, in both layouts.

    A flat name of the same 1,000 s sorts after it too, whatever its time: a reader drops
    those older than ``ms`` (:func:`is_before`).
    """
    return f"{entry_dirs(ms)}{_digits(ms)}"


def is_before(name: str, ms: int) -> bool:
    """Whether the feed entry ``name`` was written before ``ms``."""
    return name.rpartition("/")[2][:MS_DIGITS] < _digits(ms)


def feed_days(first_ms: int, last_ms: int) -> list[str]:
    """The day directories from the one of ``first_ms`` to the one of ``last_ms``."""
    first = datetime.fromtimestamp(max(first_ms, 0) / 1000, UTC).date()
    last = datetime.fromtimestamp(max(last_ms, 0) / 1000, UTC).date()
    return [f"d={first + timedelta(days=n)}/" for n in range((last - first).days + 1)]


def newest_first_name(ms: int) -> str:
    """The name of a snapshot or registry version made at ``ms``: the newest lists first."""
    return f"{_LAST_MS - ms:0{MS_DIGITS}d}-{new_run_id()}.json"


def time_of(name: str) -> int:
    """The milliseconds a feed entry's name holds."""
    return int(name.rpartition("/")[2][:MS_DIGITS])


def is_newer(name: str, than: str | None) -> bool:
    """Whether the feed entry ``name`` is newer than ``than`` (by time, then name), or than none.

    By time, not name: a flat name sorts after the entries of its directories of the same
    1,000 s, even those written after it.
    """
    return than is None or (time_of(name), name) > (time_of(than), than)


def beside(record_key: str, name: str) -> str:
    """The key of a derived object in the directory of the record at ``record_key``."""
    return f"{record_key.rpartition('/')[0]}/{name}"
