"""The system registry: owners, runbooks, docs, flows and contacts per system.

The Stricture ``lineage-system-registry`` format, parsed (JSON or YAML alike). A system not in
the registry falls back to its fields' ``owner`` and ``escalation`` annotations, as the CLI
does; every answer says where its contacts came from.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import InvalidInput, Problem
from ..ingest.validation import DocumentValidator
from .edges import Annotations
from .systems import root, system_id

ContactsFrom = Literal["registry", "annotations", "none"]

_NO_ANNOTATIONS = Annotations()


@dataclass(frozen=True, slots=True)
class Contact:
    """One way to reach the people behind a system."""

    role: str = ""
    name: str = ""
    channel: str = ""


@dataclass(frozen=True, slots=True)
class Flow:
    """A business flow a system is part of; ``level`` is ``None`` when the catalogue lacks it.

    Flow levels are tiers: level 0 or 1 is the most critical, a higher level less so.
    """

    id: str
    name: str | None = None
    level: int | None = None


@dataclass(frozen=True, slots=True)
class Ownership:
    """Who owns a system and how to reach them, and where that came from."""

    owner: str | None = None
    name: str | None = None
    runbook_url: str | None = None
    doc_root: str | None = None
    contacts: tuple[Contact, ...] = ()
    contacts_from: ContactsFrom = "none"
    flows: tuple[Flow, ...] = ()


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    owner_team: str
    runbook_url: str | None
    doc_root: str | None
    contacts: tuple[Contact, ...]
    flows: tuple[str, ...]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class Registry:
    """A parsed system registry; ``Registry()`` is the empty one (annotations only)."""

    systems: Mapping[str, _Entry] = field(default_factory=dict)
    flows: Mapping[str, Flow] = field(default_factory=dict)

    @classmethod
    def parse(cls, document: Any, *, max_errors: int = 50) -> Registry:
        """The registry ``document`` holds; ``InvalidInput`` lists every violation found.

        Checked against the registry schema; two systems whose ids differ only in case or
        surrounding blanks are one system, so a repeat is a violation too, as in the CLI.
        """
        problems = _validator(max_errors).problems(document)
        if not problems:
            seen: set[str] = set()
            for n, item in enumerate(document["systems"]):
                key = system_id(item["id"])
                if key in seen:
                    problems.append(Problem(f"/systems/{n}/id", f"duplicate system id {key!r}"))
                seen.add(key)
        if problems:
            raise InvalidInput("the system registry is not valid", problems[:max_errors])
        catalogue = {
            f["id"]: Flow(f["id"], f["name"], f["level"]) for f in document.get("strict:flows", ())
        }
        systems = {}
        for item in document["systems"]:
            contacts = tuple(
                Contact(_text(c.get("role")), _text(c.get("name")), _text(c.get("channel")))
                for c in item.get("escalation", ())
            )
            systems[system_id(item["id"])] = _Entry(
                item["name"],
                item["owner_team"],
                item.get("runbook_url"),
                item.get("doc_root"),
                contacts,
                tuple(item.get("flows", ())),
            )
        return cls(systems, catalogue)

    def ownership(self, system: str, annotations: Annotations = _NO_ANNOTATIONS) -> Ownership:
        """Who owns ``system``: its registry entry, else its root's, else the annotations.

        A registry entry without contacts still takes its contacts from the annotations.
        """
        entry = self.systems.get(system) or self.systems.get(root(system))
        fallback = tuple(Contact(role="owner", name=o) for o in annotations.owners) + tuple(
            Contact(role="escalation", channel=e) for e in annotations.escalations
        )
        if entry is None:
            return Ownership(
                owner=annotations.owners[0] if annotations.owners else None,
                contacts=fallback,
                contacts_from="annotations" if fallback else "none",
            )
        contacts = entry.contacts
        source: ContactsFrom = "registry"
        if not contacts:
            contacts, source = fallback, "annotations" if fallback else "none"
        return Ownership(
            owner=entry.owner_team,
            name=entry.name,
            runbook_url=entry.runbook_url,
            doc_root=entry.doc_root,
            contacts=contacts,
            contacts_from=source,
            flows=tuple(self.flows.get(f, Flow(f)) for f in entry.flows),
        )


@functools.cache
def _validator(max_errors: int) -> DocumentValidator:
    return DocumentValidator("registry", max_errors=max_errors)
