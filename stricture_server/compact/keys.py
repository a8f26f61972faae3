"""Where compacts and late-arrival entries live, and how their names read.

Under ``<prefix>/compact/v1/org=<o>/project=<p>/service=<s>/``:

- ``day/<day>``: the compact of one closed UTC day, ``<day>`` being the day's first
  millisecond inverted (:func:`..runstore.entries.inverted`), so a listing gives the newest
  day first. One name per day, whoever makes it: two processes compacting the same day race
  on one create-if-absent and exactly one compact is stored;
- ``late/<received>!<time>!<run_id>``: a *late* run, one received after the end of the UTC day
  of its time (``received`` then ``time`` inverted, so the latest received sorts first). Its
  day may already be compacted: reads find it here. Its body is the run's timeline entry's,
  with that entry's name.

Under ``<prefix>/compact/v1/org=<o>/``, the same for the organization's feed (every service
of it): ``day/`` and ``late/`` (``late/<received>!<time>!<run_id>/<project>/<service>``), and
``runs/<timeline name>/<project>/<service>``, an empty entry per run written with its index
objects, so that the organization's runs of the days no compact holds are one listing. Those
are the runs' *feed names*; their entries are stored flat, ``runs/<timeline name>)<project>.
<service>``, one file name of at most 255 bytes, or nested as written here when that would be
longer (:mod:`.org_layout`).

Kept apart from ``index/v1/`` so that no listing of the run index ever meets them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..runstore.entries import DAY_MS, Summary, inverted, uninverted

DAYS = "day/"
LATE = "late/"

_DAY = re.compile(r"^[0-9a-z]{12}$")
LATE_ID = r"(?P<received>[0-9a-z]{12})!(?P<time>[0-9a-z]{12})!(?P<run_id>[a-z0-9-]{1,128})"
"""The beginning of a late entry's name: its run's receipt, time and id."""
ORG_RUNS = "runs/"


def compact_root(prefix: str) -> str:
    """The key prefix of every compact and late entry."""
    return f"{prefix}/compact/v1/" if prefix else "compact/v1/"


def service_root(prefix: str, organization: str, project: str, service: str) -> str:
    """The key prefix of one service's compacts and late entries."""
    return f"{compact_root(prefix)}org={organization}/project={project}/service={service}/"


def org_feeds_complete_key(prefix: str) -> str:
    """The mark that every run of the store has its organization feed entry."""
    return f"{compact_root(prefix)}organizations-complete"


def org_root(prefix: str, organization: str) -> str:
    """The key prefix of an organization's compacts, feed entries and late entries."""
    return f"{compact_root(prefix)}org={organization}/"


def org_feed_name(timeline: str, project: str, service: str) -> str:
    """The name in its organization's feed (``runs/``) of a run of this timeline name."""
    return f"{timeline}/{project}/{service}"


def org_late_name(summary: Summary, project: str, service: str) -> str:
    """The name of a late run's entry under its organization's ``late/``."""
    return f"{late_name(summary)}/{project}/{service}"


def day_name_ms(day_ms: int) -> str:
    """The name under ``day/`` of the compact of the day that starts at ``day_ms``."""
    return inverted(day_ms)


def parse_day(name: str) -> int | None:
    """The first millisecond of the day a compact's name stands for, or None."""
    if not _DAY.match(name):
        return None
    start = uninverted(name)
    return start if start % DAY_MS == 0 else None


def is_late(summary: Summary) -> bool:
    """Whether a run was received after the end of the UTC day of its time."""
    return _after_its_day(summary.time_ms, summary.received_ms)


def is_late_name(name: str) -> bool:
    """:func:`is_late` from a name that begins with the run's timeline name,
    ``<time>!<received>!``; raises ValueError if it does not."""
    return _after_its_day(uninverted(name[:12]), uninverted(name[13:25]))


def _after_its_day(time_ms: int, received_ms: int) -> bool:
    return received_ms // DAY_MS > time_ms // DAY_MS


def late_name(summary: Summary) -> str:
    """The name of a late run's entry under ``late/``."""
    return f"{inverted(summary.received_ms)}!{inverted(summary.time_ms)}!{summary.run_id}"


@dataclass(frozen=True, slots=True)
class LateName:
    """A parsed late entry name."""

    received_ms: int
    time_ms: int
    head: str
    """What names its run in a feed entry's name (:meth:`.scope.Scope.head`): in a service,
    the beginning of its timeline name, ``<time>!<received>!<run_id>!``."""

    @classmethod
    def of(cls, received: str, time: str, head: str) -> LateName:
        """A late entry of these receipt and time (inverted) and this head."""
        return cls(uninverted(received), uninverted(time), head)


def head_of(timeline_name: str) -> str:
    """The ``<time>!<received>!<run_id>!`` a timeline name begins with: one per run."""
    return timeline_name[: timeline_name.index("!", 26) + 1]
