"""The org graph: the union of the latest ``RunGraph`` of every service, indexed both ways."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .edges import Annotations, RunGraph

DEFAULT_EVIDENCE_LIMIT = 10
"""Evidence fields named per edge in an answer; the total is always given."""


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """A service: where its runs are stored."""

    organization: str
    project: str
    service: str

    def __str__(self) -> str:
        return f"{self.organization}/{self.project}/{self.service}"


@dataclass(frozen=True, slots=True)
class FieldRef:
    """One field of one service's latest artifact: the evidence that names an upstream."""

    location: Location
    field_id: str


@dataclass(frozen=True, slots=True)
class EdgeFacts:
    """One edge of the org graph: every field that gives it counted, the first few named."""

    consumer: str
    upstream: str
    field_count: int
    fields: tuple[FieldRef, ...]


class OrgGraph:
    """The org's graph, assembled from the latest ``RunGraph`` of each service.

    Immutable once built. ``latest`` maps each service to the ``RunGraph`` of its latest run;
    an edge given by several services counts the fields of all of them.
    """

    def __init__(
        self,
        latest: Mapping[Location, RunGraph],
        *,
        evidence_limit: int = DEFAULT_EVIDENCE_LIMIT,
    ) -> None:
        self.runs: dict[Location, RunGraph] = dict(sorted(latest.items()))
        self._evidence_limit = evidence_limit
        owners: dict[str, list[Location]] = {}
        notes: dict[str, list[Annotations]] = {}
        consumers: dict[str, dict[str, None]] = {}
        upstreams: dict[str, dict[str, None]] = {}
        for location, run in self.runs.items():
            for system in run.owned:
                owners.setdefault(system, []).append(location)
            for system, declared in run.systems.items():
                notes.setdefault(system, []).append(declared)
            for consumer, upstream in run.edges:
                consumers.setdefault(upstream, {})[consumer] = None
                upstreams.setdefault(consumer, {})[upstream] = None
        self.owners = owners
        self._notes = notes
        # Sorted neighbour lists make every walk, and so every answer, the same each time.
        self.consumers = {s: sorted(found) for s, found in consumers.items()}
        self.upstreams = {s: sorted(found) for s, found in upstreams.items()}

    def with_run(self, location: Location, run: RunGraph) -> OrgGraph | None:
        """This graph with ``run`` as the latest run of ``location``, without assembling it
        again, when ``run`` has the shape of the run it replaces (the same systems with the
        same annotations, the same edges): the indexes are then the same, and only evidence,
        read from :attr:`runs` when asked, differs. ``None`` when it has another shape.

        A service's lineage seldom changes from one run to the next, and assembling a
        500-service org again costs about a second: each ingest of such a run would pay it.
        """
        old = self.runs.get(location)
        if old is None or old.systems != run.systems or old.edges.keys() != run.edges.keys():
            return None
        swapped = copy.copy(self)
        swapped.runs = {**self.runs, location: run}
        return swapped

    def systems(self) -> list[str]:
        """Every system the graph knows: owned by a service or named by an edge, sorted."""
        return sorted(set(self.owners) | set(self.consumers) | set(self.upstreams))

    def known(self, system: str) -> bool:
        """Whether ``system`` is owned by a service or named by an edge."""
        return system in self.owners or system in self.consumers or system in self.upstreams

    def owned_by(self, system: str) -> list[Location]:
        """The services whose latest artifact declares ``system`` (or a subsystem of it)."""
        return self.owners.get(system, [])

    def annotations(self, system: str) -> Annotations:
        """The ``owner`` and ``escalation`` annotations of the fields that declare ``system``.

        Merged over every service that declares it, first seen first, without repeats.
        """
        owners: dict[str, None] = {}
        escalations: dict[str, None] = {}
        for notes in self._notes.get(system, []):
            owners.update(dict.fromkeys(notes.owners))
            escalations.update(dict.fromkeys(notes.escalations))
        return Annotations(tuple(owners), tuple(escalations))

    def edge_count(self) -> int:
        """How many edges the graph has."""
        return sum(len(found) for found in self.upstreams.values())

    def edge(self, consumer: str, upstream: str) -> EdgeFacts:
        """The edge from ``consumer`` to ``upstream`` with its evidence, over every service.

        Built when asked, not at assembly: an answer names few edges of a large graph. Only a
        service that owns ``consumer`` can give the edge, so only those are looked at.
        """
        count = 0
        fields: list[FieldRef] = []
        for location in self.owners.get(consumer, ()):
            evidence = self.runs[location].edges.get((consumer, upstream))
            if evidence is not None:
                count += evidence.total
                room = max(self._evidence_limit - len(fields), 0)
                fields.extend(FieldRef(location, f) for f in evidence.fields[:room])
        return EdgeFacts(consumer, upstream, count, tuple(fields))

    def edges_among(self, systems: set[str]) -> Iterator[EdgeFacts]:
        """The edges whose both ends are in ``systems``, in order."""
        for consumer in sorted(systems):
            for upstream in self.upstreams.get(consumer, ()):
                if upstream in systems:
                    yield self.edge(consumer, upstream)
