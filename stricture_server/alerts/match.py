"""A run's changes and blast radius -> its alerts: at most one per destination.

Cheap first: :func:`worth_a_look` asks only the diff (severity, change type) and the run's
project and service, so a run no rule could select never needs its blast radius here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .rules import OrgAlerts, Rule


@dataclass(frozen=True, slots=True)
class Match:
    """One alert to raise: a destination, the rules that sent there, the matching changes."""

    destination: str
    rules: tuple[str, ...]
    indexes: tuple[int, ...]
    """The matching changes, by their index in the diff."""


def changes_of(diff: object) -> list[Any]:
    """The ``changes`` of a diff, ``[]`` for anything malformed."""
    changes = diff.get("changes") if isinstance(diff, dict) else None
    return changes if isinstance(changes, list) else []


def worth_a_look(alerts: OrgAlerts, project: str, service: str, changes: Sequence[Any]) -> bool:
    """Whether some rule could match some change, judging by the diff alone."""
    rules = [r for r in alerts.rules if r.selects_run(project, service)]
    return any(isinstance(c, dict) and rule.selects_change(c) for rule in rules for c in changes)


@dataclass(frozen=True, slots=True)
class _Reach:
    """What a change's system reaches: other services, and the flows of the reached systems."""

    services: int
    flow_ids: frozenset[str]
    min_level: int | None


_NOWHERE = _Reach(0, frozenset(), None)
"""The reach of a change no system of the graph resolves."""


def _reach_of(system: str, reached: Mapping[str, Any], own: Mapping[str, str]) -> _Reach:
    services: set[tuple[str, str, str]] = set()
    flow_ids: set[str] = set()
    levels: list[int] = []
    own_key = (own["organization"], own["project"], own["service"])
    for item in reached.get(system) or ():
        for loc in item.get("services") or ():
            key = (loc["organization"], loc["project"], loc["service"])
            if key != own_key:
                services.add(key)
        for flow in item.get("flows") or ():
            flow_ids.add(flow["id"])
            if isinstance(flow.get("level"), int):
                levels.append(flow["level"])
    return _Reach(len(services), frozenset(flow_ids), min(levels) if levels else None)


def _fits(rule: Rule, impact: str, reach: _Reach) -> bool:
    if impact not in rule.impacts or reach.services < rule.min_impacted_services:
        return False
    flows = rule.flows
    if flows is None:
        return True
    if flows.ids & reach.flow_ids:
        return True
    level, limit = reach.min_level, flows.max_level
    return level is not None and limit is not None and level <= limit


def match_run(alerts: OrgAlerts, changes: Sequence[Any], blast: Mapping[str, Any]) -> list[Match]:
    """The alerts of one run: for each destination, the changes any of its rules matched.

    ``blast`` is the run's stored blast radius (``blast/derive.py``, compact form).
    """
    own = {k: blast[k] for k in ("organization", "project", "service")}
    classified = {c["index"]: c for c in blast.get("changes") or ()}
    reached: Mapping[str, Any] = blast.get("reached") or {}
    reaches: dict[str, _Reach] = {}
    rules = [r for r in alerts.rules if r.selects_run(own["project"], own["service"])]
    found: dict[str, tuple[set[str], set[int]]] = {}
    # A rule selects only changes of its severities: one cheap pass keeps the changes some rule
    # could select (50 of the real diff's 295), and only those are judged.
    severities = frozenset[str]().union(*(rule.severities for rule in rules))
    candidates = [
        (index, change)
        for index, change in enumerate(changes)
        if isinstance(change, dict) and change.get("severity") in severities
    ]
    for index, change in candidates:
        judged = classified.get(index) or {}
        system = judged.get("system")
        impact = judged.get("impact", "unknown")
        if system is not None and system not in reaches:
            reaches[system] = _reach_of(system, reached, own)
        reach = reaches[system] if system is not None else _NOWHERE
        for rule in rules:
            if rule.selects_change(change) and _fits(rule, impact, reach):
                for name in rule.destinations:
                    names, indexes = found.setdefault(name, (set(), set()))
                    names.add(rule.name)
                    indexes.add(index)
    return [
        Match(name, tuple(sorted(names)), tuple(sorted(indexes)))
        for name, (names, indexes) in sorted(found.items())
    ]
