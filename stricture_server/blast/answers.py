"""The answers of ``GET /v1/graph/{org}`` and ``GET /v1/escalation/{org}/{system}``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, Problem, UnknownSystem
from ..lineage.documents import escalation_document, graph_document
from ..lineage.escalation import escalate
from ..lineage.render import dot, select
from ..lineage.systems import system_id
from ..runstore.records import sanitized
from ..settings import MAX_LINEAGE_DEPTH
from .orgs import Orgs
from .registry_store import RegistryStore

if TYPE_CHECKING:
    from ..reads.query_params import Args

_DEPTH = re.compile(r"^[0-9]{1,3}$")
FORMATS = ("json", "dot")


@dataclass(frozen=True, slots=True)
class View:
    """What a graph request asks for."""

    system: str | None
    depth: int
    format: str


def parse_view(args: Args, default_depth: int, allowed: tuple[str, ...]) -> View:
    """The parameters in ``args`` (only ``allowed`` ones), or :class:`InvalidInput` naming each
    bad one."""
    # The read API's parsing, loaded on the first read rather than at every cold start.
    from ..reads.query_params import single_values

    values, problems = single_values(args, allowed)
    depth = default_depth
    if "depth" in values:
        text = values["depth"]
        if not _DEPTH.match(text) or not 1 <= int(text) <= MAX_LINEAGE_DEPTH:
            problems.append(
                Problem("?depth", f"{text!r} is not a whole number 1 to {MAX_LINEAGE_DEPTH}")
            )
        else:
            depth = int(text)
    system = None
    if "system" in values:
        system = system_id(values["system"])
        if not system:
            problems.append(Problem("?system", "empty system id"))
    form = values.get("format", "json")
    if form not in FORMATS:
        problems.append(Problem("?format", f"{form!r} is not one of {', '.join(FORMATS)}"))
    if problems:
        raise InvalidInput("invalid query parameters", problems)
    return View(system, depth, form)


def organization_of(name: str) -> str:
    """An organization path segment, sanitised as ingest does."""
    return sanitized({"organization": name})["organization"]


class GraphAnswers:
    """The org graph and escalation chains, from the feeds this process keeps."""

    def __init__(self, orgs: Orgs, registries: RegistryStore, depth: int) -> None:
        self.orgs = orgs
        self.registries = registries
        self.depth = depth

    def graph(self, organization: str, args: Args) -> tuple[str, Any]:
        """The org graph, or one system's neighbourhood: ``("json", document)`` or
        ``("dot", source)``."""
        org = organization_of(organization)
        view = parse_view(args, self.depth, ("system", "depth", "format"))
        graph, version = self.orgs.feed(org).current()
        if view.system is not None and not graph.known(view.system):
            raise UnknownSystem(view.system)
        systems = select(graph, view.system, depth=view.depth)
        if view.format == "dot":
            return "dot", dot(graph, systems)
        document = {
            "organization": org,
            "system": view.system,
            "depth": view.depth if view.system else None,
            "graph": version.as_json(),
            **graph_document(graph, systems),
        }
        return "json", document

    def escalation(self, organization: str, system: str, args: Mapping[str, Any]) -> Any:
        """Who to call when ``system`` reports bad data, closest first."""
        org = organization_of(organization)
        view = parse_view(args, self.depth, ("depth",))
        wanted = system_id(system)
        graph, version = self.orgs.feed(org).current()
        if not graph.known(wanted):
            raise UnknownSystem(wanted)
        registry = self.registries.latest(org)
        chain = escalate(graph, wanted, registry.registry if registry else None, depth=view.depth)
        return {
            "organization": org,
            "system": wanted,
            "depth": view.depth,
            "graph": version.as_json(),
            "registry_version": registry.version if registry else None,
            "chain": escalation_document(chain),
        }
