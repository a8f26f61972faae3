"""The impact of each change of a lineage-diff on the org: who is hit, who owns them.

A change is ``downstream`` when its system has consumers owned by another service (within the
depth limit), ``self_only`` when its system is known and nothing outside its own service
consumes it, and ``unknown`` when no system of the graph can be resolved for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .graph import Location, OrgGraph
from .registry import Flow, Ownership, Registry
from .systems import system_id
from .walk import DEFAULT_DEPTH, Hop, blast_radius, reach_size

Impact = Literal["downstream", "self_only", "unknown"]
IMPACTS: tuple[Impact, ...] = ("downstream", "self_only", "unknown")


@dataclass(frozen=True, slots=True)
class Impacted:
    """One system a change reaches: the hop, the services that own it, who to call."""

    hop: Hop
    locations: tuple[Location, ...]
    ownership: Ownership


@dataclass(frozen=True, slots=True)
class ChangeImpact:
    """The classification of one change (``index`` as in the diff and the change feed)."""

    index: int
    system: str | None
    impact: Impact
    impacted: tuple[Impacted, ...]


@dataclass(frozen=True, slots=True)
class RunImpact:
    """Every change of one run's diff, and the run-level summary."""

    changes: tuple[ChangeImpact, ...]
    impacted_services: tuple[Location, ...]
    """The other services owning a system reached by any change, sorted."""
    highest_flow: Flow | None
    """The most critical flow (lowest level) of any system reached; ``None`` when none has one."""
    counts: Mapping[Impact, int]


def resolve_system(
    change: Mapping[str, Any], graph: OrgGraph, field_systems: Mapping[str, str]
) -> str | None:
    """The system a change is about: the first of ``impact.service``, ``source.service`` and
    the ``source_system`` of its field (``field_systems``: field id -> system) that the graph
    knows; ``None`` when none is."""
    return _Resolver(graph, field_systems).system(change)


class _Resolver:
    """:func:`resolve_system` for every change of one diff: each name is normalised and
    looked up once, since a diff's hundreds of changes name a handful of services."""

    def __init__(self, graph: OrgGraph, field_systems: Mapping[str, str]) -> None:
        self._graph, self._fields = graph, field_systems
        self._names: dict[str, str] = {}
        """A name as given -> its system id if the graph knows it, else ``""``."""

    def _known(self, name: str) -> str:
        found = self._names.get(name)
        if found is None:
            wanted = system_id(name)
            found = self._names[name] = wanted if wanted and self._graph.known(wanted) else ""
        return found

    def system(self, change: Mapping[str, Any]) -> str | None:
        for endpoint in (change.get("impact"), change.get("source")):
            service = endpoint.get("service") if isinstance(endpoint, dict) else None
            if isinstance(service, str) and (found := self._known(service)):
                return found
        field_id = change.get("field_id")
        system = self._fields.get(field_id) if isinstance(field_id, str) else None
        return (self._known(system) or None) if isinstance(system, str) else None


class _Reach:
    """Blast radii with owners, computed once per system: a diff names few systems, and
    their radii overlap, so each reached system's owners are looked up once too."""

    def __init__(self, graph: OrgGraph, registry: Registry, depth: int) -> None:
        self._graph, self._registry, self._depth = graph, registry, depth
        self._found: dict[str, tuple[Impacted, ...]] = {}
        self._owners: dict[str, tuple[tuple[Location, ...], Ownership]] = {}

    def _owned(self, system: str) -> tuple[tuple[Location, ...], Ownership]:
        if system not in self._owners:
            graph = self._graph
            ownership = self._registry.ownership(system, graph.annotations(system))
            self._owners[system] = (tuple(graph.owned_by(system)), ownership)
        return self._owners[system]

    def of(self, system: str) -> tuple[Impacted, ...]:
        if system not in self._found:
            self._found[system] = tuple(
                Impacted(hop, *self._owned(hop.system))
                for hop in blast_radius(self._graph, system, depth=self._depth)
            )
        return self._found[system]


def change_systems(
    diff: Mapping[str, Any], graph: OrgGraph, field_systems: Mapping[str, str] | None = None
) -> list[str | None]:
    """The system of each change of ``diff`` (:func:`resolve_system`), ``None`` where none is.

    Worked out once and handed to :func:`reach_total` and :func:`classify_run` on the same
    graph: a diff has hundreds of changes.
    """
    resolver = _Resolver(graph, field_systems or {})
    changes = diff.get("changes")
    return [
        resolver.system(c) if isinstance(c, dict) else None
        for c in (changes if isinstance(changes, list) else ())
    ]


def reach_total(
    diff: Mapping[str, Any],
    graph: OrgGraph,
    *,
    field_systems: Mapping[str, str] | None = None,
    depth: int = DEFAULT_DEPTH,
    limit: int,
    systems: Sequence[str | None] | None = None,
) -> int:
    """How many systems the blast radii of ``diff``'s changed systems reach, added up over
    its distinct systems; counting stops once past ``limit`` (the answer is then over it).

    What :func:`classify_run` would build, measured first: its cost grows with this number.
    ``systems``: :func:`change_systems` of the diff on ``graph``, if already known.
    """
    if systems is None:
        systems = change_systems(diff, graph, field_systems)
    total = 0
    for system in sorted({s for s in systems if s is not None}):
        total += reach_size(graph, system, depth=depth)
        if total > limit:
            break
    return total


def classify_run(
    diff: Mapping[str, Any],
    graph: OrgGraph,
    own: Location,
    *,
    field_systems: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    depth: int = DEFAULT_DEPTH,
    systems: Sequence[str | None] | None = None,
) -> RunImpact:
    """The impact of every change of ``diff``, a run of service ``own``, on ``graph``.

    ``field_systems`` maps the run's field ids to their systems (``RunGraph.fields``);
    ``systems`` is :func:`change_systems` of the diff on ``graph``, if already known.
    """
    reach = _Reach(graph, registry or Registry(), depth)
    if systems is None:
        systems = change_systems(diff, graph, field_systems)
    found = []
    services: set[Location] = set()
    flows: dict[str, Flow] = {}
    judged: dict[str, Impact] = {}
    for index, system in enumerate(systems):
        if system is None:
            found.append(ChangeImpact(index, None, "unknown", ()))
            continue
        impacted = reach.of(system)
        if system not in judged:  # many changes name one system: judge it once
            others = {loc for item in impacted for loc in item.locations if loc != own}
            services |= others
            for item in impacted:
                flows.update((f.id, f) for f in item.ownership.flows)
            judged[system] = "downstream" if others else "self_only"
        found.append(ChangeImpact(index, system, judged[system], impacted))
    levelled = [f for f in flows.values() if f.level is not None]
    highest = min(levelled, key=lambda f: (f.level, f.id)) if levelled else None
    counts = {name: sum(1 for c in found if c.impact == name) for name in IMPACTS}
    return RunImpact(tuple(found), tuple(sorted(services)), highest, counts)
