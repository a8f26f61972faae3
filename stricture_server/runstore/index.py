"""Derived index objects: one small immutable object per run and fact, never a shared one.

For each run, under ``<prefix>/index/v1/org=<o>/project=<p>/service=<s>/``:

- ``runs/<timeline name>``: the run's summary in its name (see :mod:`.entries`), newest first.
  Its body holds the summary and the diff's changes, for the change feed;
- ``sha/<commit_sha>!<timeline name>``: the same, listed by commit (runs with a commit only);
- for a run received after the end of its day, a late entry beside the compacts
  (:mod:`..compact.keys`), so that a compacted change feed still finds it;
- beside its organization's compacts, an empty feed entry (and a late entry for a late run),
  so that the org-wide feed lists the runs of an organization in one listing; flat, one file
  directly under the organization's ``runs/`` (:mod:`..compact.org_layout`).

``runs/`` sorts before ``sha/``, so the first key under a service's index is its latest run.
The names of organizations, projects and services have entries of their own (:mod:`.names`),
written before the run's objects. Everything here is rebuilt from the records by
``stricture-server reindex``; each object is written with create-if-absent, so writers racing
on one service lose nothing and a rebuild never changes an existing object.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

import orjson

from ..compact.keys import (
    LATE,
    ORG_RUNS,
    is_late,
    late_name,
    org_feed_name,
    org_late_name,
    org_root,
    service_root,
)
from ..compact.org_layout import stored_name
from ..errors import ObjectExists
from ..storage import Storage
from .entries import SEVERITIES, Counts, Summary, commit_name, timeline_name, to_ms
from .integrity import Corrupt
from .names import Names, index_root
from .records import RunIdentity, identity_from_path, parse_rfc3339

log = logging.getLogger(__name__)

TIMELINE = "runs/"
COMMITS = "sha/"


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """An organization/project/service, sanitised: what the index is kept per."""

    organization: str
    project: str
    service: str

    def index_prefix(self, prefix: str) -> str:
        """The key prefix of this service's index objects."""
        return f"{project_prefix(prefix, self.organization, self.project)}service={self.service}/"

    def run(self, run_id: str) -> RunIdentity:
        """The identity of one of this service's runs."""
        return RunIdentity(self.organization, self.project, self.service, run_id)

    @property
    def location(self) -> str:
        """The service's path in the API."""
        return f"/v1/artifacts/{self.organization}/{self.project}/{self.service}"


def org_prefix(prefix: str, organization: str) -> str:
    """The key prefix of an organization's index objects."""
    return f"{index_root(prefix)}org={organization}/"


def project_prefix(prefix: str, organization: str, project: str) -> str:
    """The key prefix of a project's index objects."""
    return f"{org_prefix(prefix, organization)}project={project}/"


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the index keeps of one run: its summary and its diff's changes."""

    service: ServiceRef
    summary: Summary
    changes: tuple[dict[str, Any], ...]

    @classmethod
    def from_fields(
        cls, identity: RunIdentity, fields: Mapping[str, Any], received_at: str
    ) -> RunFacts:
        """The facts of a normalised envelope (or record) received at ``received_at``."""
        received_ms = to_ms(datetime.fromisoformat(received_at))
        generated = fields.get("generated_at")
        time_ms = to_ms(parse_rfc3339(generated)) if generated is not None else received_ms
        commit = fields.get("commit_sha")
        counts, changes = _changes(fields.get("diff"))
        summary = Summary(
            run_id=identity.run_id,
            time_ms=time_ms,
            received_ms=received_ms,
            generated=generated is not None,
            commit_sha=commit.lower() if isinstance(commit, str) else None,
            counts=counts,
        )
        service = ServiceRef(identity.organization, identity.project, identity.service)
        return cls(service, summary, changes)

    @classmethod
    def from_record(cls, data: bytes) -> RunFacts:
        """The facts of a stored record."""
        record = orjson.loads(data)
        identity = identity_from_path(
            record["organization"], record["project"], record["service"], record["run_id"]
        )
        return cls.from_fields(identity, record, record["received_at"])

    def objects(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        """The index objects of this run, keys and bodies, timeline first."""
        base = self.service.index_prefix(prefix)
        summary = self.summary.as_json(self.service.run(self.summary.run_id).location)
        name = timeline_name(self.summary)
        yield base + TIMELINE + name, orjson.dumps({"summary": summary, "changes": self.changes})
        if self.summary.commit_sha:
            key = base + COMMITS + commit_name(self.summary, self.summary.commit_sha)
            yield key, orjson.dumps({"summary": summary})
        # Empty: its name says where the run is; the org-wide feed lists it to find the runs
        # of the days no organization compact holds yet. Flat: no directory to make on fs.
        project, service = self.service.project, self.service.service
        org = org_root(prefix, self.service.organization)
        yield org + ORG_RUNS + stored_name(org_feed_name(name, project, service)), b""

    def late_objects(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        """The late entry of a run received after its day: stored after :meth:`objects`.

        Its day may be compacted already: the compacted change feed finds the run here. Stored
        only once the timeline entry is, so a compaction that does not see the run in the
        timeline cannot have missed a late entry stored before it.
        """
        if not is_late(self.summary):
            return
        service = self.service
        summary = self.summary.as_json(service.run(self.summary.run_id).location)
        root = service_root(prefix, service.organization, service.project, service.service)
        body = {"name": timeline_name(self.summary), "summary": summary, "changes": self.changes}
        yield root + LATE + late_name(self.summary), orjson.dumps(body)
        # The same for the organization's compacts, named by the run's place in its feed.
        project, name = service.project, service.service
        org = org_root(prefix, service.organization)
        body["name"] = org_feed_name(timeline_name(self.summary), project, name)
        late = stored_name(org_late_name(self.summary, project, name))
        yield org + LATE + late, orjson.dumps(body)


def _changes(diff: object) -> tuple[Counts | None, tuple[dict[str, Any], ...]]:
    # With STRICTURE_SERVER_VALIDATION=object a diff may have any shape: keep what looks like
    # changes and count those, so the counts always agree with the change feed.
    if not isinstance(diff, dict) or not isinstance(diff.get("changes"), list):
        return None, ()
    changes = tuple(c for c in diff["changes"] if isinstance(c, dict))
    seen = Counter(c.get("severity") for c in changes)
    return Counts(total=len(changes), **{s: seen[s] for s in SEVERITIES}), changes


def summary_of(body: dict[str, Any]) -> Summary:
    """The summary kept in an index object's (parsed) body."""
    found = body["summary"]
    generated = found["generated_at"]
    received_ms = to_ms(datetime.fromisoformat(found["received_at"]))
    counts = found["severity_counts"]
    return Summary(
        run_id=found["run_id"],
        time_ms=to_ms(datetime.fromisoformat(generated)) if generated else received_ms,
        received_ms=received_ms,
        generated=generated is not None,
        commit_sha=found["commit_sha"],
        counts=Counts(**counts) if counts else None,
    )


def parse_entry(data: bytes) -> tuple[Summary, list[dict[str, Any]]]:
    """The summary and changes an index object holds, or :class:`Corrupt`."""
    try:
        body = orjson.loads(data)
    except ValueError as exc:
        raise Corrupt(f"not an index object: {exc!r}") from None
    return entry_of(body)


def entry_of(body: Any) -> tuple[Summary, list[dict[str, Any]]]:
    """The summary and changes in an index object's parsed body, or :class:`Corrupt`."""
    try:
        changes = body.get("changes", [])
        summary = summary_of(body)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Corrupt(f"not an index object: {exc!r}") from None
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise Corrupt("not an index object: changes is not a list of objects")
    return summary, changes


def sound_entry(key: str, data: bytes) -> tuple[Summary, list[dict[str, Any]]] | None:
    """An index object's summary and changes; None, logged, when it is corrupt.

    One corrupt object must not take a whole listing down: it is skipped, and
    ``stricture-server verify`` names it.
    """
    try:
        return parse_entry(data)
    except Corrupt as exc:
        log.warning(
            "corrupt index entry skipped", extra={"fields": {"key": key, "reason": str(exc)}}
        )
        return None


class Index:
    """Writes the index objects of runs, each with create-if-absent."""

    def __init__(self, storage: Storage, prefix: str) -> None:
        self.storage = storage
        self.prefix = prefix
        self.names = Names(storage, prefix)

    def add(self, facts: RunFacts) -> int:
        """Write the run's name entries and index objects that are missing; the number written."""
        service = facts.service
        # Names first: an index object is never stored before its service can be listed.
        created = self.names.add(service.organization, service.project, service.service)
        for key, body in chain(facts.objects(self.prefix), facts.late_objects(self.prefix)):
            with suppress(ObjectExists):
                self.storage.create(key, body)
                created += 1
        return created
