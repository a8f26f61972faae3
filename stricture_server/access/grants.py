"""Grants: actions on organization / project / service patterns, and the checks on them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

WRITE = "write"
"""Ingest runs."""
READ = "read"
"""Runs, listings, feeds, the lineage graph, blast radius, the registry."""
ADMIN = "admin"
"""Upload a registry, replication status: the operator's actions."""
ACTIONS = (WRITE, READ, ADMIN)

ANY = "*"

NAME_PATTERN = re.compile(r"^[a-z0-9*?-]{1,128}$")
"""A pattern on canonical names: lower-case letters, digits, ``-`` and the globs ``*``, ``?``."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a request acts on, by canonical names; ``None`` is the whole level (every one)."""

    organization: str | None = None
    project: str | None = None
    service: str | None = None

    def __str__(self) -> str:
        parts = [self.organization, self.project, self.service]
        shown = [p for p in parts if p is not None]
        return "/".join(shown) if shown else "*"


EVERYTHING = Target()


def _covers(pattern: str, name: str | None) -> bool:
    # A whole level (None) is covered only by a pattern matching every name.
    return pattern == ANY if name is None else fnmatchcase(name, pattern)


@dataclass(frozen=True, slots=True)
class Grant:
    """A set of actions on the names matching three glob patterns (``*`` matches all)."""

    actions: frozenset[str]
    organization: str = ANY
    project: str = ANY
    service: str = ANY

    def allows(self, action: str, target: Target) -> bool:
        """Whether this grant allows ``action`` on all of ``target``."""
        return (
            action in self.actions
            and _covers(self.organization, target.organization)
            and _covers(self.project, target.project)
            and _covers(self.service, target.service)
        )

    def touches(self, action: str, target: Target) -> bool:
        """Whether it allows ``action`` on some part of ``target`` (a name worth listing)."""
        levels = (
            (self.organization, target.organization),
            (self.project, target.project),
            (self.service, target.service),
        )
        return action in self.actions and all(
            name is None or fnmatchcase(name, pattern) for pattern, name in levels
        )

    def as_json(self) -> dict[str, Any]:
        """The grant as ``GET /v1/whoami`` shows it."""
        return {
            "actions": [a for a in ACTIONS if a in self.actions],
            "organization": self.organization,
            "project": self.project,
            "service": self.service,
        }


@dataclass(frozen=True, slots=True)
class Grants:
    """Every grant a caller holds; nothing is allowed that no grant allows."""

    grants: tuple[Grant, ...] = ()

    def allows(self, action: str, target: Target) -> bool:
        """Whether some grant allows ``action`` on all of ``target``."""
        return any(g.allows(action, target) for g in self.grants)

    def touches(self, action: str, target: Target) -> bool:
        """Whether some grant allows ``action`` on some part of ``target``."""
        return any(g.touches(action, target) for g in self.grants)

    def __add__(self, other: Grants) -> Grants:
        return Grants(self.grants + other.grants)

    def as_json(self) -> list[dict[str, Any]]:
        """The grants as ``GET /v1/whoami`` shows them."""
        return [g.as_json() for g in self.grants]


ALL = Grants((Grant(frozenset(ACTIONS)),))
"""Every action on everything: the shared token, and every caller when auth is off."""


def parse_scope(scope: str) -> Grant:
    """A token scope ``ACTIONS:ORG[/PROJECT[/SERVICE]]``, e.g. ``write,read:acme/payments``."""
    actions_text, sep, names_text = scope.partition(":")
    actions = frozenset(a.strip() for a in actions_text.split(",") if a.strip())
    unknown = sorted(actions - set(ACTIONS))
    if not sep or not actions or unknown:
        raise ValueError(
            f"scope {scope!r}: expected ACTIONS:ORG[/PROJECT[/SERVICE]] with actions among "
            f"{', '.join(ACTIONS)}"
        )
    names = [n.strip() for n in names_text.split("/")]
    if len(names) > 3 or not all(NAME_PATTERN.match(n) for n in names):
        raise ValueError(
            f"scope {scope!r}: expected at most ORG/PROJECT/SERVICE after ':', "
            "each of a-z, 0-9, '-', '*', '?'"
        )
    names += [ANY] * (3 - len(names))
    return Grant(actions, names[0], names[1], names[2])


def grant_of(entry: dict[str, Any]) -> Grant:
    """A grant as the configuration file writes it (validated by its schema)."""
    return Grant(
        frozenset(entry["actions"]),
        entry.get("organization", ANY),
        entry.get("project", ANY),
        entry.get("service", ANY),
    )
