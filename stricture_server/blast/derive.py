"""The lineage step of an ingest, and each run's stored blast radius.

After the record and its index objects are stored, ingest (in this order):

1. appends the run's ``RunGraph`` to the org feed;
2. creates ``lineage-graph.json`` beside the record: written last of the two, it says the
   feed has the run, so an identical replay does not append it again;
3. for a run with a diff, creates ``blast-radius.json`` beside the record: the impact of each
   change against the org graph as this process assembled it then, saying which graph.

The run is acknowledged whatever happens here: a failure is logged and the derived objects
are made later. ``stricture-server reindex`` does steps 1 and 2 for a run without
``lineage-graph.json``; a blast radius that is missing is computed on its first read, against
the graph of that moment, and stored then (its ``computed`` says ``on_read``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import datetime
from typing import Any, Literal

import orjson

from ..errors import LineageObjectInvalid, ObjectExists, ObjectNotFound
from ..lineage.documents import compact_impact_document
from ..lineage.edges import RunGraph
from ..lineage.graph import Location, OrgGraph
from ..lineage.impact import classify_run, reach_total
from ..runstore.records import RunIdentity
from ..runstore.runs import RunStore, format_time
from ..storage import Storage
from . import keys
from .feed import GraphVersion, OrgFeed, append
from .orgs import Orgs
from .registry_store import RegistryStore

log = logging.getLogger(__name__)

Computed = Literal["at_ingest", "on_read"]


def location_of(identity: RunIdentity) -> Location:
    """The service of a run, as the lineage graph names it."""
    return Location(identity.organization, identity.project, identity.service)


def derive(artifact: object, run_id: str) -> RunGraph | None:
    """The run's ``RunGraph``; ``None`` (logged) if it cannot be derived."""
    try:
        return RunGraph.from_artifact(artifact if isinstance(artifact, dict) else {}, run_id)
    except Exception:
        log.exception("lineage graph not derived", extra={"fields": {"run_id": run_id}})
        return None


def _exists(storage: Storage, key: str) -> bool:
    return next(iter(storage.list(key)), None) == key


def feed_run(
    storage: Storage,
    prefix: str,
    identity: RunIdentity,
    record_key: str,
    time_ms: int,
    graph: RunGraph,
    now_ms: int,
    *,
    check: bool = True,
    feed: OrgFeed | None = None,
) -> bool:
    """Steps 1 and 2 for a run whose ``lineage-graph.json`` is missing; whether it was.

    ``check=False`` skips the listing that asks: a run stored by this very ingest has none.
    """
    graph_key = keys.beside(record_key, keys.RUN_GRAPH)
    if check and _exists(storage, graph_key):
        return False
    location = location_of(identity)
    if feed is None:
        root = keys.org_root(prefix, identity.organization)
        append(storage, root, location, time_ms, graph, now_ms)
    else:
        feed.append(location, time_ms, graph)
    with suppress(ObjectExists):
        storage.create(graph_key, graph.to_json())
    return True


class RunLineage:
    """The lineage objects of runs: written at ingest, the blast radius read or made later."""

    def __init__(
        self,
        runs: RunStore,
        orgs: Orgs,
        registries: RegistryStore,
        depth: int,
        clock: Callable[[], datetime],
        ingest_reach: int = 5000,
        ingest_fresh_ms: int = 0,
    ) -> None:
        self.ingest_reach = ingest_reach
        self.ingest_fresh_ms = ingest_fresh_ms
        self.runs = runs
        self.storage = runs.storage
        self.orgs = orgs
        self.registries = registries
        self.depth = depth
        self.clock = clock

    def after_ingest(
        self,
        identity: RunIdentity,
        record_key: str,
        time_ms: int,
        graph: RunGraph | None,
        diff: object,
        *,
        replay: bool,
    ) -> dict[str, Any] | None:
        """Steps 1 to 3 for a stored run; the blast radius it stored, if it did.

        Never raises: the run is acknowledged regardless.
        """
        try:
            if graph is None:
                return None
            now_ms = time.time_ns() // 1_000_000
            prefix, storage = self.runs.prefix, self.storage
            feed = self.orgs.feed(identity.organization)
            feed_run(
                storage,
                prefix,
                identity,
                record_key,
                time_ms,
                graph,
                now_ms,
                check=replay,
                feed=feed,
            )
            blast_key = keys.beside(record_key, keys.BLAST_RADIUS)
            if isinstance(diff, dict) and not (replay and _exists(self.storage, blast_key)):
                org = feed.current(max_age_ms=self.ingest_fresh_ms)
                if self._within_reach(identity, graph, diff, org[0]):
                    document = self._fields(identity, graph, diff, "at_ingest", org)
                    # Stored by another attempt of the same run: read when it is wanted.
                    with suppress(ObjectExists):
                        self.storage.create(blast_key, orjson.dumps(document))
                        return document
        except Exception:
            log.exception(
                "lineage step failed; the run is stored, its lineage objects come later",
                extra={"fields": {"location": identity.location}},
            )
        return None

    def blast_radius(self, identity: RunIdentity) -> bytes:
        """The run's stored blast radius, computed and stored now if it is missing.

        Served as stored: each reached system's list once, under ``reached``. Expanded into
        every change, a tier-0 service's 300-change diff would be a 130 MB answer.
        """
        record_key = self.runs.record_key(identity)
        blast_key = keys.beside(record_key, keys.BLAST_RADIUS)
        with suppress(ObjectNotFound):
            return self.storage.read(blast_key)
        record = orjson.loads(self.runs.read_record(identity).data)
        graph = self._run_graph(record_key, record, identity.run_id)
        body = orjson.dumps(self._fields(identity, graph, record.get("diff"), "on_read"))
        try:
            self.storage.create(blast_key, body)
        except ObjectExists:
            # Another request stored it first: answer what is stored, as every later read will.
            return self.storage.read(blast_key)
        return body

    def _run_graph(self, record_key: str, record: Mapping[str, Any], run_id: str) -> RunGraph:
        try:
            return RunGraph.from_json(self.storage.read(keys.beside(record_key, keys.RUN_GRAPH)))
        except (ObjectNotFound, LineageObjectInvalid):
            return RunGraph.from_artifact(record.get("artifact") or {}, run_id)

    def _within_reach(
        self, identity: RunIdentity, graph: RunGraph, diff: object, org_graph: OrgGraph
    ) -> bool:
        """Whether the run's blast radius is small enough to compute inside its ingest."""
        changes = diff if isinstance(diff, dict) else {}
        limit = self.ingest_reach
        reach = reach_total(
            changes, org_graph, field_systems=graph.fields, depth=self.depth, limit=limit
        )
        if reach > limit:
            # Seconds of CPU and tens of megabytes for a service most of the org reads: not
            # inside the ingest request. Its first read computes and stores it.
            log.info(
                "blast radius left to its first read",
                extra={"fields": {"location": identity.location, "reach": reach}},
            )
        return reach <= limit

    def _fields(
        self,
        identity: RunIdentity,
        graph: RunGraph,
        diff: object,
        computed: Computed,
        org: tuple[OrgGraph, GraphVersion] | None = None,
    ) -> dict[str, Any]:
        org_graph, version = org or self.orgs.feed(identity.organization).current()
        changes = diff if isinstance(diff, dict) else {}
        registry = self.registries.latest(identity.organization)
        result = classify_run(
            changes,
            org_graph,
            location_of(identity),
            field_systems=graph.fields,
            registry=registry.registry if registry else None,
            depth=self.depth,
        )
        return {
            "organization": identity.organization,
            "project": identity.project,
            "service": identity.service,
            "run_id": identity.run_id,
            "location": identity.location,
            "computed": computed,
            "computed_at": format_time(self.clock()),
            "depth": self.depth,
            "graph": version.as_json(),
            "registry_version": registry.version if registry else None,
            **compact_impact_document(result),
        }
