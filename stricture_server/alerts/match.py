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
class Reach:
    """What a change's system reaches: other services, their flows, and the payload's list."""

    services: frozenset[tuple[str, str, str]]
    """The services owning a reached system, the run's own left out."""
    flow_ids: frozenset[str]
    min_level: int | None
    systems: frozenset[str]
    """The reached systems."""
    impacted: list[dict[str, Any]]
    """The reached systems as an alert's payload lists them (one list, shared by its changes)."""


_IMPACTED = ("system", "depth", "path", "services", "owner", "name", "runbook_url", "contacts")
_NOWHERE = Reach(frozenset(), frozenset(), None, frozenset(), [])
"""The reach of a change no system of the graph resolves."""


class RunBlast:
    """A run's stored blast radius (``blast/derive.py``, compact form) as the alert step reads it.

    Matching and every payload of the run read the same judgements and reached systems: each
    is worked out once here, on first use, not once by the matching and again per payload.
    """

    def __init__(self, blast: Mapping[str, Any]) -> None:
        self.own = (blast["organization"], blast["project"], blast["service"])
        self._listed: Sequence[Any] = blast.get("changes") or ()
        self._by_index: dict[int, Any] | None = None
        self._reached: Mapping[str, Any] = blast.get("reached") or {}
        self._reaches: dict[str, Reach] = {}

    def judged(self, index: int) -> Mapping[str, Any]:
        """The blast radius's judgement of change ``index`` (its system, its impact)."""
        listed = self._listed
        # The document lists every change of the diff in order, so the position is the index;
        # one that does not is looked up by its indexes.
        if 0 <= index < len(listed) and listed[index].get("index") == index:
            found: Mapping[str, Any] = listed[index]
            return found
        if self._by_index is None:
            self._by_index = {c["index"]: c for c in listed}
        return self._by_index.get(index) or {}

    def reach(self, system: str | None) -> Reach:
        """What ``system`` reaches; nothing for ``None``."""
        if system is None:
            return _NOWHERE
        found = self._reaches.get(system)
        if found is None:
            found = self._reaches[system] = self._reach_of(system)
        return found

    def _reach_of(self, system: str) -> Reach:
        services: set[tuple[str, str, str]] = set()
        flow_ids: set[str] = set()
        levels: list[int] = []
        impacted: list[dict[str, Any]] = []
        for item in self._reached.get(system) or ():
            listed = {key: item.get(key) for key in _IMPACTED}
            listed["flows"] = flows = item.get("flows") or []
            impacted.append(listed)
            for loc in item.get("services") or ():
                key = (loc["organization"], loc["project"], loc["service"])
                if key != self.own:
                    services.add(key)
            for flow in flows:
                flow_ids.add(flow["id"])
                if isinstance(flow.get("level"), int):
                    levels.append(flow["level"])
        systems = frozenset(listed["system"] for listed in impacted)
        minimum = min(levels) if levels else None
        return Reach(frozenset(services), frozenset(flow_ids), minimum, systems, impacted)


def _fits(rule: Rule, impact: str, reach: Reach) -> bool:
    if impact not in rule.impacts or len(reach.services) < rule.min_impacted_services:
        return False
    flows = rule.flows
    if flows is None:
        return True
    if flows.ids & reach.flow_ids:
        return True
    level, limit = reach.min_level, flows.max_level
    return level is not None and limit is not None and level <= limit


def match_run(alerts: OrgAlerts, changes: Sequence[Any], blast: RunBlast) -> list[Match]:
    """The alerts of one run: for each destination, the changes any of its rules matched."""
    _, project, service = blast.own
    rules = [r for r in alerts.rules if r.selects_run(project, service)]
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
        judged = blast.judged(index)
        impact = judged.get("impact", "unknown")
        reach = blast.reach(judged.get("system"))
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
