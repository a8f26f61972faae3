"""Where the lineage objects live. Every one is written once, with create-if-absent.

Under ``<prefix>/lineage/v1/org=<o>/``:

- ``feed/d=<UTC day>/<ms>-<id>.json``: one entry per ingested run, named by the time it was
  written (13-digit milliseconds, so names sort by time), holding the run's ``RunGraph``. The
  day directories keep a listing of recent entries from walking the whole feed on ``fs``. An
  ingest names its run's entry by the time the run was received and a hash of the run's
  location (:func:`run_feed_name`), so the entry says the feed has the run;
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


def feed_name(ms: int) -> str:
    """The name of a feed entry written at ``ms``: sorts by time, unique across processes."""
    return f"{feed_day(ms)}{ms:0{MS_DIGITS}d}-{new_run_id()}.json"


def run_feed_name(received_at: str, location: str) -> str:
    """The name of the feed entry an ingest writes for the run at ``location``.

    Named by the time the run was received (RFC 3339, as its claim and record hold it), so a
    replay or ``reindex`` finds it again from the run alone, with one listing of its key.
    """
    moment = datetime.fromisoformat(received_at)
    ms = (moment - _EPOCH) // timedelta(milliseconds=1)
    run = hashlib.sha256(location.encode()).hexdigest()[:32]
    return f"{feed_day(ms)}{ms:0{MS_DIGITS}d}-{run}.json"


def feed_start(ms: int) -> str:
    """The name every feed entry written at or after ``ms`` sorts after."""
    return f"{feed_day(ms)}{max(ms, 0):0{MS_DIGITS}d}"


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


def beside(record_key: str, name: str) -> str:
    """The key of a derived object in the directory of the record at ``record_key``."""
    return f"{record_key.rpartition('/')[0]}/{name}"
