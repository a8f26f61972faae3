"""A view of the org graph: all of it, or the neighbourhood of one system; drawn as Graphviz
DOT source a person can render (``documents.graph_document`` gives the same view as data)."""

from __future__ import annotations

from .graph import OrgGraph
from .walk import DEFAULT_DEPTH, neighbourhood


def select(graph: OrgGraph, system: str | None = None, *, depth: int = DEFAULT_DEPTH) -> set[str]:
    """The systems of a view: every one, or ``system`` and its up- and downstream to ``depth``."""
    if system is None:
        return set(graph.systems())
    return neighbourhood(graph, system, depth=depth) if graph.known(system) else set()


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
