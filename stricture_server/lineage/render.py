"""A view of the org graph (all of it, or the neighbourhood of one system) as JSON-ready data
or as Graphviz DOT source a person can draw."""

from __future__ import annotations

from typing import Any

from .graph import EdgeFacts, Location, OrgGraph
from .walk import DEFAULT_DEPTH, neighbourhood


def _where(location: Location) -> dict[str, str]:
    return {
        "organization": location.organization,
        "project": location.project,
        "service": location.service,
    }


def select(graph: OrgGraph, system: str | None = None, *, depth: int = DEFAULT_DEPTH) -> set[str]:
    """The systems of a view: every one, or ``system`` and its up- and downstream to ``depth``."""
    if system is None:
        return set(graph.systems())
    return neighbourhood(graph, system, depth=depth) if graph.known(system) else set()


def document(graph: OrgGraph, systems: set[str]) -> dict[str, Any]:
    """The view of ``systems`` as plain data: each system with the services (and the runs)
    that own it, and the edges among them with their evidence."""
    return {
        "systems": [
            {
                "system": system,
                "owners": [
                    {**_where(loc), "run_id": graph.runs[loc].run_id}
                    for loc in graph.owned_by(system)
                ],
            }
            for system in sorted(systems)
        ],
        "edges": [_edge(edge) for edge in graph.edges_among(systems)],
    }


def _edge(edge: EdgeFacts) -> dict[str, Any]:
    return {
        "from": edge.consumer,
        "to": edge.upstream,
        "field_count": edge.field_count,
        "fields": [{**_where(ref.location), "field_id": ref.field_id} for ref in edge.fields],
    }


def dot(graph: OrgGraph, systems: set[str]) -> str:
    """The view of ``systems`` as Graphviz DOT: an arrow from each consumer to its upstream.

    Nodes are named ``n0``, ``n1``... and labelled with the (escaped) system id and its owning
    services, so no system id, however odd, can break the syntax.
    """
    # Imported here: only this answer needs it, and ingest cold starts stay as they are.
    import graphviz  # type: ignore[import-untyped]

    drawing = graphviz.Digraph("lineage", graph_attr={"rankdir": "LR"}, node_attr={"shape": "box"})
    names: dict[str, str] = {}
    for n, system in enumerate(sorted(systems)):
        names[system] = f"n{n}"
        lines = [system, *(str(loc) for loc in graph.owned_by(system))]
        # "\\n" is DOT's line break; escape() keeps a "\\" in an id from being read as one.
        drawing.node(names[system], label="\\n".join(graphviz.escape(line) for line in lines))
    for edge in graph.edges_among(systems):
        drawing.edge(names[edge.consumer], names[edge.upstream], label=str(edge.field_count))
    source: str = drawing.source
    return source
