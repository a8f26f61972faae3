"""The edges one artifact gives, with their evidence: the per-run ``RunGraph``.

A ``RunGraph`` is small and immutable: a later step stores it beside the run, once, so that the
org graph is assembled from these objects without reading any artifact again.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from ..errors import LineageObjectInvalid
from ..ingest.validation import DocumentValidator
from .systems import root, system_id

RUN_GRAPH_VERSION = 1
"""The ``schema_version`` of a serialised ``RunGraph``; a new shape gets a new number."""

EVIDENCE_KEPT = 20
"""Field ids kept per edge in a ``RunGraph``; the edge's ``count`` still counts every field."""


def upstream_system(source: Mapping[str, Any]) -> str:
    """The system one source of a field reads from, ``""`` when it names none.

    ``upstream_system`` when present; else ``provider_id`` for an external source; else, for
    an ``api`` or ``event`` source, its ``target`` up to the first ``.`` (or ``/``), as the
    Stricture CLI derives it.
    """
    upstream = system_id(source.get("upstream_system"))
    if upstream:
        return upstream
    if source.get("scope") == "external":
        provider = system_id(source.get("provider_id"))
        if provider:
            return provider
    target = source.get("target")
    if source.get("kind") not in ("api", "event") or not isinstance(target, str):
        return ""
    target = target.strip()
    # The CLI looks for a "." first and only then for a "/": "a/b.c" names "a/b".
    for separator in (".", "/"):
        at = target.find(separator)
        if at > 0:
            return system_id(target[:at])
    return system_id(target)


@dataclass(frozen=True, slots=True)
class Annotations:
    """What a run's fields say about a system they declare: ``owner`` and ``escalation`` values."""

    owners: tuple[str, ...] = ()
    escalations: tuple[str, ...] = ()


class Evidence(NamedTuple):
    """The fields of one run that give one edge: every one counted, the first few named."""

    # A NamedTuple, not a frozen dataclass: the org graph reads back ~100,000 of these, and a
    # tuple is built several times faster (benchmarks/graph.py).

    total: int
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunGraph:
    """The systems one run's artifact declares and the edges (consumer, upstream) it gives."""

    run_id: str
    systems: Mapping[str, Annotations] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)
    """Each field id of the artifact and the system that declares it."""
    edges: Mapping[tuple[str, str], Evidence] = field(default_factory=dict)

    @property
    def owned(self) -> frozenset[str]:
        """The systems this run's service owns: those it declares and their roots."""
        return frozenset(self.systems) | {root(s) for s in self.systems}

    @classmethod
    def from_artifact(cls, artifact: Mapping[str, Any], run_id: str) -> RunGraph:
        """The graph of a lineage-export artifact (parsed); malformed entries give nothing."""
        owners: dict[str, dict[str, None]] = {}
        escalations: dict[str, dict[str, None]] = {}
        fields: dict[str, str] = {}
        found: dict[tuple[str, str], dict[str, None]] = {}
        items = artifact.get("fields")
        for item in items if isinstance(items, list) else ():
            if not isinstance(item, dict):
                continue
            consumer = system_id(item.get("source_system"))
            if not consumer:
                continue
            field_id = item.get("field_id")
            field_id = field_id if isinstance(field_id, str) else ""
            fields[field_id] = consumer
            # dicts keep first-seen order and drop repeats, as the CLI's fallback contacts do.
            for notes, key in ((owners, "owner"), (escalations, "escalation")):
                value = item.get(key)
                bucket = notes.setdefault(consumer, {})
                if isinstance(value, str) and value.strip():
                    bucket[value.strip()] = None
            sources = item.get("sources")
            for source in sources if isinstance(sources, list) else ():
                if not isinstance(source, dict):
                    continue
                upstream = upstream_system(source)
                for pair in ((consumer, upstream), (root(consumer), root(upstream))):
                    if pair[0] and pair[1] and pair[0] != pair[1]:
                        # an ordered set: a list's "in" made a 10 MB artifact quadratic
                        found.setdefault(pair, {})[field_id] = None
        systems = {s: Annotations(tuple(owners[s]), tuple(escalations[s])) for s in sorted(owners)}
        edges = {
            pair: Evidence(len(names), tuple(itertools.islice(names, EVIDENCE_KEPT)))
            for pair, names in sorted(found.items())
        }
        return cls(run_id, systems, dict(sorted(fields.items())), edges)

    def to_json(self) -> bytes:
        """The serialised form, stable byte for byte for the same graph."""
        document = {
            "schema_version": RUN_GRAPH_VERSION,
            "run_id": self.run_id,
            "systems": {
                s: {"owners": list(a.owners), "escalations": list(a.escalations)}
                for s, a in self.systems.items()
            },
            "fields": dict(self.fields),
            "edges": [
                {"from": c, "to": u, "count": e.total, "fields": list(e.fields)}
                for (c, u), e in self.edges.items()
            ],
        }
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, data: bytes) -> RunGraph:
        """The graph ``to_json`` wrote; ``LineageObjectInvalid`` for anything else."""
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise LineageObjectInvalid(f"run graph is not JSON: {error}") from error
        return cls.from_document(document)

    @classmethod
    def from_document(cls, document: Any) -> RunGraph:
        """The graph of a parsed ``to_json`` document (one embedded in a larger object)."""
        problems = _validator().problems(document)
        if problems:
            raise LineageObjectInvalid(f"run graph is not valid: {problems[0]}")
        return cls(
            document["run_id"],
            {
                s: Annotations(tuple(a["owners"]), tuple(a["escalations"]))
                for s, a in document["systems"].items()
            },
            document["fields"],
            {
                (e["from"], e["to"]): Evidence(e["count"], tuple(e["fields"]))
                for e in document["edges"]
            },
        )


@functools.cache
def _validator() -> DocumentValidator:
    # Compiled on first use, not at import: ingest imports this module on every cold start.
    return DocumentValidator("run-graph", max_errors=1)
