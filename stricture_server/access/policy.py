"""The access policy: rules that give OIDC identities grants by the claims of their tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from .grants import Grants, grant_of

EXACT_CLAIMS = ("repository_owner_id", "repository_id", "namespace_id", "project_id")
"""Claims compared exactly: numeric ids, which survive a rename of the owner or repository."""
GLOB_CLAIMS = (
    "repository",
    "repository_owner",
    "namespace_path",
    "project_path",
    "ref",
    "environment",
    "job_workflow_ref",
)
"""Claims matched by a glob (``*`` also matches ``/``)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """Tokens of ``issuer`` whose claims meet every condition get ``grants``."""

    name: str
    issuer: str
    grants: Grants
    subject: str = ""
    exact: tuple[tuple[str, str], ...] = ()
    globs: tuple[tuple[str, str], ...] = ()

    def matches(self, issuer: str, subject: str, claims: Mapping[str, str]) -> bool:
        """Whether a verified token with these claims meets every condition."""
        if issuer != self.issuer:
            return False
        if self.subject and not fnmatchcase(subject, self.subject):
            return False
        if any(claims.get(name) != value for name, value in self.exact):
            return False
        return all(
            name in claims and fnmatchcase(claims[name], pattern) for name, pattern in self.globs
        )


def rule_of(index: int, entry: Mapping[str, Any]) -> Rule:
    """A rule as the configuration file writes it (validated by its schema)."""
    when = entry["when"]
    return Rule(
        name=entry.get("name", f"rule {index + 1}"),
        issuer=when["issuer"],
        grants=Grants(tuple(grant_of(g) for g in entry["grant"])),
        subject=when.get("subject", ""),
        # Ids may be written as numbers in YAML; tokens carry them as strings.
        exact=tuple((n, str(when[n])) for n in EXACT_CLAIMS if n in when),
        globs=tuple((n, when[n]) for n in GLOB_CLAIMS if n in when),
    )


@dataclass(frozen=True, slots=True)
class Policy:
    """Every rule; an identity's grants are those of every rule it meets (deny by default)."""

    rules: tuple[Rule, ...] = ()

    def grants_for(
        self, issuer: str, subject: str, claims: Mapping[str, str]
    ) -> tuple[Grants, tuple[str, ...]]:
        """The grants of a verified token and the names of the rules that gave them."""
        grants = Grants()
        names: list[str] = []
        for rule in self.rules:
            if rule.matches(issuer, subject, claims):
                grants += rule.grants
                names.append(rule.name)
        return grants, tuple(names)
