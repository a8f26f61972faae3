"""Walks of the org graph: the blast radius downstream, the escalation chain upstream, and
the neighbourhood of one system. Each is breadth first, sorted, bounded by a depth limit, and
visits a system once, so cycles end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .graph import FieldRef, OrgGraph

DEFAULT_DEPTH = 8
"""How many hops a walk goes when the caller does not say, as in the Stricture CLI."""


@dataclass(frozen=True, slots=True)
class Hop:
    """One system reached downstream of a changed system.

    ``path`` runs from the changed system to this one; ``fields`` are the fields of this
    system's consumers that name the previous system of the path (capped), ``field_count``
    how many there are in all.
    """

    system: str
    depth: int
    path: tuple[str, ...]
    fields: tuple[FieldRef, ...]
    field_count: int


@dataclass(frozen=True, slots=True)
class Step:
    """One system of an escalation chain: ``reported_bad_data`` or ``upstream_of:<system>``."""

    system: str
    depth: int
    reason: str


def _breadth_first(
    start: str, neighbours: Mapping[str, Sequence[str]], depth: int
) -> list[tuple[str, str, int]]:
    """``(system, reached_from, depth)`` for every system within ``depth`` hops, closest first.

    Neighbour lists are sorted, so the first path found to a system is the same every time.
    """
    seen = {start}
    frontier = [start]
    found: list[tuple[str, str, int]] = []
    for level in range(1, depth + 1):
        reached = []
        for system in frontier:
            for neighbour in neighbours.get(system, ()):
                if neighbour not in seen:
                    seen.add(neighbour)
                    reached.append(neighbour)
                    found.append((neighbour, system, level))
        if not reached:
            break
        frontier = reached
    return found


def blast_radius(graph: OrgGraph, system: str, *, depth: int = DEFAULT_DEPTH) -> list[Hop]:
    """Every system that consumes ``system``, directly or through others, within ``depth``."""
    paths: dict[str, tuple[str, ...]] = {system: (system,)}
    hops = []
    for reached, upstream, level in _breadth_first(system, graph.consumers, depth):
        path = (*paths[upstream], reached)
        paths[reached] = path
        edge = graph.edge(reached, upstream)
        hops.append(Hop(reached, level, path, edge.fields, edge.field_count))
    return hops


def reach_size(graph: OrgGraph, system: str, *, depth: int = DEFAULT_DEPTH) -> int:
    """How many systems :func:`blast_radius` reaches, without building their hops (the walk
    alone is cheap; the evidence of each hop is not)."""
    return len(_breadth_first(system, graph.consumers, depth))


def escalation_chain(graph: OrgGraph, system: str, *, depth: int = DEFAULT_DEPTH) -> list[Step]:
    """Who to call when ``system`` reports bad data: it, then its upstreams, closest first.

    Within one depth the steps are sorted by system id, as the CLI's ``lineage-escalate``.
    """
    steps = [Step(system, 0, "reported_bad_data")]
    found = _breadth_first(system, graph.upstreams, depth)
    found.sort(key=lambda item: (item[2], item[0]))
    steps.extend(Step(s, level, f"upstream_of:{parent}") for s, parent, level in found)
    return steps


def neighbourhood(graph: OrgGraph, system: str, *, depth: int = DEFAULT_DEPTH) -> set[str]:
    """``system`` and every system up- or downstream of it within ``depth`` hops."""
    found = {system}
    for neighbours in (graph.consumers, graph.upstreams):
        found.update(s for s, _, _ in _breadth_first(system, neighbours, depth))
    return found
