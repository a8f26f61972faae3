"""What a set of compacts covers: one service's change feed, or an organization's.

A scope names where its per-run entries are listed in feed order (a service's timeline, or
the organization's feed entries), where its compacts and late entries live, and how to go
from an entry's name to its run. A run of the organization's feed is named by its feed name,
``<timeline name>/<project>/<service>``, whichever layout its entry is stored in
(:mod:`.org_layout`); the org-wide feed orders runs as these names sort
(:class:`..reads.org_changes.Position`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..runstore.entries import Entry, parse_timeline
from ..runstore.identity import MAX_LENGTH
from ..runstore.index import TIMELINE, ServiceRef
from .keys import LATE_ID, ORG_RUNS, LateName, head_of, org_root, service_root
from .org_layout import feed_name

_PART = rf"[a-z0-9-]{{1,{MAX_LENGTH}}}"
_ORG_NAME = re.compile(rf"^(?P<name>[^/]+)/(?P<project>{_PART})/(?P<service>{_PART})$")
_ORG_LATE = re.compile(rf"^{LATE_ID}/(?P<project>{_PART})/(?P<service>{_PART})$")
_SERVICE_LATE = re.compile(rf"^{LATE_ID}$")


@dataclass(frozen=True, slots=True)
class Run:
    """Where an entry's run is: its service and its name in that service's timeline."""

    ref: ServiceRef
    name: str


@dataclass(frozen=True, slots=True)
class Scope:
    """One service's feed (``project`` and ``service`` set), or its organization's."""

    prefix: str
    organization: str
    project: str | None = None
    service: str | None = None

    @classmethod
    def of_service(cls, prefix: str, ref: ServiceRef) -> Scope:
        """A service's feed."""
        return cls(prefix, ref.organization, ref.project, ref.service)

    @property
    def org_wide(self) -> bool:
        """Whether this is an organization's feed."""
        return self.service is None

    @property
    def root(self) -> str:
        """The key prefix of the scope's compacts and late entries."""
        if self.project is None or self.service is None:
            return org_root(self.prefix, self.organization)
        return service_root(self.prefix, self.organization, self.project, self.service)

    @property
    def base(self) -> str:
        """The key prefix of the scope's per-run entries, listed in feed order."""
        if self.project is None or self.service is None:
            return self.root + ORG_RUNS
        return self.ref_of(self.project, self.service).index_prefix(self.prefix) + TIMELINE

    def ref_of(self, project: str, service: str) -> ServiceRef:
        """A service of the scope's organization."""
        return ServiceRef(self.organization, project, service)

    def run_of(self, name: str) -> Run | None:
        """The run an entry's name stands for, or None if it is not one."""
        if self.project is not None and self.service is not None:
            return Run(self.ref_of(self.project, self.service), name)
        match = _ORG_NAME.match(name)
        if match is None:
            return None
        return Run(self.ref_of(match["project"], match["service"]), match["name"])

    def entry(self, name: str) -> Entry | None:
        """The timeline entry an entry's name stands for (named by that name), or None."""
        run = self.run_of(name)
        found = parse_timeline(run.name) if run is not None else None
        if found is None:
            return None
        return Entry(name, found.time_ms, found.run_id, found.summary)

    def head(self, name: str) -> str:
        """What names one run, exactly, in an entry's name (a late entry's ``head``)."""
        if self.org_wide:
            timeline, project, service = name.split("/")
            return f"{head_of(timeline)}{project}/{service}"
        return head_of(name)

    def parse_late(self, name: str) -> LateName | None:
        """The late entry a name under ``late/`` stands for (in either layout), or None."""
        if self.org_wide:
            name = feed_name(name)
        match = (_ORG_LATE if self.org_wide else _SERVICE_LATE).match(name)
        if match is None:
            return None
        head = f"{match['time']}!{match['received']}!{match['run_id']}!"
        if self.org_wide:
            head += f"{match['project']}/{match['service']}"
        return LateName.of(match["received"], match["time"], head)
