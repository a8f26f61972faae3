"""The answers of the lineage library as plain JSON-ready data: the graph view, a run's
impact (the blast-radius answer), and an escalation chain. One shape per answer, so every
runtime and every later endpoint says the same thing."""

from __future__ import annotations

from typing import Any

from .escalation import Escalation
from .graph import EdgeFacts, FieldRef, Location, OrgGraph
from .impact import Impacted, RunImpact
from .registry import Flow, Ownership


def where(location: Location) -> dict[str, str]:
    """A service's location as the API spells it."""
    return {
        "organization": location.organization,
        "project": location.project,
        "service": location.service,
    }


def _field(ref: FieldRef) -> dict[str, str]:
    return {**where(ref.location), "field_id": ref.field_id}


def _flow(flow: Flow) -> dict[str, Any]:
    return {"id": flow.id, "name": flow.name, "level": flow.level}


def _ownership(ownership: Ownership) -> dict[str, Any]:
    return {
        "owner": ownership.owner,
        "name": ownership.name,
        "runbook_url": ownership.runbook_url,
        "doc_root": ownership.doc_root,
        "contacts": [
            {"role": c.role, "name": c.name, "channel": c.channel} for c in ownership.contacts
        ],
        "contacts_from": ownership.contacts_from,
        "flows": [_flow(f) for f in ownership.flows],
    }


def graph_document(graph: OrgGraph, systems: set[str]) -> dict[str, Any]:
    """The view of ``systems``: each with the services (and the runs) that own it, and the
    edges among them with their evidence."""
    return {
        "systems": [
            {
                "system": system,
                "owners": [
                    {**where(loc), "run_id": graph.runs[loc].run_id}
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
        "fields": [_field(ref) for ref in edge.fields],
    }


def _impacted(item: Impacted) -> dict[str, Any]:
    hop = item.hop
    return {
        "system": hop.system,
        "depth": hop.depth,
        "path": list(hop.path),
        "services": [where(loc) for loc in item.locations],
        "field_count": hop.field_count,
        "fields": [_field(ref) for ref in hop.fields],
        **_ownership(item.ownership),
    }


def impact_document(result: RunImpact) -> dict[str, Any]:
    """A run's blast radius: each change (by its index in the diff) and the run summary."""
    return {
        "summary": {
            "impacted_services": len(result.impacted_services),
            "services": [where(loc) for loc in result.impacted_services],
            "highest_flow": _flow(result.highest_flow) if result.highest_flow else None,
            "changes": dict(result.counts),
        },
        "changes": [
            {
                "index": change.index,
                "system": change.system,
                "impact": change.impact,
                "impacted": [_impacted(item) for item in change.impacted],
            }
            for change in result.changes
        ],
    }


def escalation_document(chain: list[Escalation]) -> list[dict[str, Any]]:
    """An escalation chain, closest first."""
    return [
        {
            "system": entry.step.system,
            "depth": entry.step.depth,
            "reason": entry.step.reason,
            "services": [where(loc) for loc in entry.locations],
            **_ownership(entry.ownership),
        }
        for entry in chain
    ]
