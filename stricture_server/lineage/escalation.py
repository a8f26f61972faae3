"""Who to call when a system reports bad data: the server's ``lineage-escalate``."""

from __future__ import annotations

from dataclasses import dataclass

from .graph import Location, OrgGraph
from .registry import Ownership, Registry
from .systems import system_id
from .walk import DEFAULT_DEPTH, Step, escalation_chain


@dataclass(frozen=True, slots=True)
class Escalation:
    """One step of the chain, with the services that own the system and who to call."""

    step: Step
    locations: tuple[Location, ...]
    ownership: Ownership


def escalate(
    graph: OrgGraph,
    system: str,
    registry: Registry | None = None,
    *,
    depth: int = DEFAULT_DEPTH,
) -> list[Escalation]:
    """The upstream chain from ``system``, closest first, each step with its owners."""
    registry = registry or Registry()
    return [
        Escalation(
            step,
            tuple(graph.owned_by(step.system)),
            registry.ownership(step.system, graph.annotations(step.system)),
        )
        for step in escalation_chain(graph, system_id(system), depth=depth)
    ]
