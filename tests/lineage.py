"""Helpers for the lineage tests: org graphs from the factory's org specs."""

from __future__ import annotations

from stricture_server.lineage.edges import RunGraph
from stricture_server.lineage.graph import Location, OrgGraph

from . import factory

ORG = "acme"


def where(service: str) -> Location:
    """The location of a service of the test org."""
    return Location(ORG, "platform", service)


def run_graphs(spec: factory.OrgSpec) -> dict[Location, RunGraph]:
    """The RunGraph of each service's latest artifact, run ids ``run-<service>``."""
    return {
        where(name): RunGraph.from_artifact(artifact, f"run-{name}")
        for name, artifact in factory.lineage_org(spec).items()
    }


def org_graph(spec: factory.OrgSpec, *, evidence_limit: int = 10) -> OrgGraph:
    """The org graph of ``spec``."""
    return OrgGraph(run_graphs(spec), evidence_limit=evidence_limit)
