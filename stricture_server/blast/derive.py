"""The lineage step of an ingest, and each run's stored blast radius.

Once the run is claimed, ingest writes, at the same time as the record and index objects:

1. the run's ``RunGraph`` as its entry in the org feed, named after the run
   (:func:`keys.run_feed_name`): found by that name, it says the feed has the run, so an
   identical replay does not append it again;
2. for a run with a diff, ``blast-radius.json`` beside the record: the impact of each change
   against the org graph as this process assembled it then (with this run's own entry),
   saying which graph.

The run is acknowledged whatever happens here: a failure is logged and the derived objects
are made later. An identical replay or ``stricture-server reindex`` appends the feed entry of
a run that lacks it (under the time of that moment, so readers see it) and then writes
``lineage-graph.json`` beside the record, which from then on says the feed has the run; a
blast radius that is missing is computed on its first read, against the graph of that moment,
and stored then (its ``computed`` says ``on_read``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

from ..errors import LineageObjectInvalid, ObjectExists, ObjectNotFound
from ..lineage.documents import compact_impact_document
from ..lineage.edges import RunGraph
from ..lineage.graph import Location, OrgGraph
from ..lineage.impact import change_systems, classify_run, reach_total
from ..runstore.records import RunIdentity
from ..runstore.runs import RunStore, format_time
from ..storage import Storage, exists
from . import keys
from .feed import GraphVersion, Landing, OrgFeed, OwnEntry, append
from .orgs import Orgs
from .registry_store import RegistryStore, RegistryVersion

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


def has_feed_entry(
    storage: Storage, prefix: str, identity: RunIdentity, record_key: str, received_at: str
) -> bool:
    """Whether the feed has the run: its own entry, or ``lineage-graph.json`` written after one.

    Its own entry under either name (``keys.run_feed_names``): the run may have been stored by
    a version that wrote the feed's entries flat in the day's directory.
    """
    feed = keys.org_root(prefix, identity.organization) + keys.FEED
    names = keys.run_feed_names(received_at, identity.location)
    return any(exists(storage, feed + name) for name in names) or exists(
        storage, keys.beside(record_key, keys.RUN_GRAPH)
    )


def feed_run(
    storage: Storage,
    prefix: str,
    identity: RunIdentity,
    record_key: str,
    time_ms: int,
    received_at: str,
    graph: RunGraph,
    now_ms: int,
    *,
    feed: OrgFeed | None = None,
    landing: Landing | None = None,
) -> bool:
    """Append the feed entry of a run the feed lacks, then ``lineage-graph.json``; whether so.

    Without ``feed`` (a command's process keeps no org graph), ``landing`` bounds the entry's
    write delay as a feed's own appends do.
    """
    if has_feed_entry(storage, prefix, identity, record_key, received_at):
        return False
    location = location_of(identity)
    if feed is None:
        root = keys.org_root(prefix, identity.organization)
        append(storage, root, location, time_ms, graph, now_ms, landing=landing)
    else:
        feed.append(location, time_ms, graph)
    with suppress(ObjectExists):
        storage.create(keys.beside(record_key, keys.RUN_GRAPH), graph.to_json())
    return True


Start = Callable[[Callable[[], Any]], "Future[Any]"]
"""Starts a call on the ingest's thread pool (:meth:`Writes.start`)."""


@dataclass(frozen=True, slots=True)
class Prefetch:
    """The reads of a blast radius started with the claim: when, and the registry's."""

    listed_since: int
    """The org feed is listed from this moment on (this process's feed clock)."""
    registry: Future[RegistryVersion | None]


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

    def prefetch(
        self, identity: RunIdentity, graph: RunGraph | None, diff: object, start: Start
    ) -> Prefetch | None:
        """For a run whose blast radius is computed at ingest, start the reads it needs.

        The listing of the org feed and the registry do not depend on the claim: sent with
        it, they cost the ingest no round trip of their own (see :meth:`ingest_writes`).
        """
        if graph is None or not isinstance(diff, dict):
            return None
        feed = self.orgs.feed(identity.organization)

        def listing() -> None:
            feed.current(max_age_ms=self.ingest_fresh_ms)

        since = feed.clock_ms()
        start(self._guarded(identity, listing))
        return Prefetch(since, start(lambda: self.registries.latest(identity.organization)))

    def ingest_writes(
        self,
        identity: RunIdentity,
        record_key: str,
        time_ms: int,
        received_at: str,
        graph: RunGraph | None,
        diff: object,
        *,
        replay: bool,
        prefetched: Prefetch | None = None,
        stored: list[dict[str, Any]] | None = None,
    ) -> list[Callable[[], None]]:
        """The lineage writes of a stored run, to run with its other writes; none raises.

        A new run's feed entry and blast radius are independent writes; the blast radius uses
        the reads :meth:`prefetch` started once they have ended. A replay first asks what its
        first attempt stored, and writes only what is missing. The blast radius a write stores
        is added to ``stored``, for the steps after it (alerts) to use without reading it back.
        """
        if graph is None:
            return []
        if replay:

            def complete() -> None:
                self._complete(identity, record_key, time_ms, received_at, graph, diff)

            return [self._guarded(identity, complete)]
        feed = self.orgs.feed(identity.organization)
        location = location_of(identity)
        own = OwnEntry(keys.run_feed_name(received_at, identity.location), location, time_ms, graph)

        def entry() -> None:
            with suppress(ObjectExists):
                feed.append(location, time_ms, graph, own.name)

        def blast_radius() -> None:
            key = keys.beside(record_key, keys.BLAST_RADIUS)
            document = self._store_blast(identity, key, graph, diff, own, prefetched)
            if document is not None and stored is not None:
                stored.append(document)

        writes = [self._guarded(identity, entry)]
        if isinstance(diff, dict):
            writes.append(self._guarded(identity, blast_radius))
        return writes

    def _complete(
        self,
        identity: RunIdentity,
        record_key: str,
        time_ms: int,
        received_at: str,
        graph: RunGraph,
        diff: object,
    ) -> None:
        """A replay's lineage step: what its first attempt did not store, in order."""
        now_ms = time.time_ns() // 1_000_000
        feed = self.orgs.feed(identity.organization)
        stored = (self.storage, self.runs.prefix, identity, record_key)
        feed_run(*stored, time_ms, received_at, graph, now_ms, feed=feed)
        blast = keys.beside(record_key, keys.BLAST_RADIUS)
        if isinstance(diff, dict) and not exists(self.storage, blast):
            self._store_blast(identity, blast, graph, diff, None)

    def _store_blast(
        self,
        identity: RunIdentity,
        key: str,
        graph: RunGraph,
        diff: object,
        own: OwnEntry | None,
        prefetched: Prefetch | None = None,
    ) -> dict[str, Any] | None:
        """Compute and store the blast radius when it is within reach; the document stored."""
        since = prefetched.listed_since if prefetched else None
        org = self.orgs.feed(identity.organization).current(
            max_age_ms=self.ingest_fresh_ms, own=own, listed_since=since
        )
        systems = change_systems(diff if isinstance(diff, dict) else {}, org[0], graph.fields)
        if self._within_reach(identity, graph, diff, org[0], systems):
            registry = (prefetched.registry.result(),) if prefetched else None
            document = self._fields(identity, graph, diff, "at_ingest", org, registry, systems)
            # Stored by another attempt of the same run: read when it is wanted.
            with suppress(ObjectExists):
                self.storage.create(key, orjson.dumps(document))
                return document
        return None

    @staticmethod
    def _guarded(identity: RunIdentity, write: Callable[[], None]) -> Callable[[], None]:
        def guarded() -> None:
            try:
                write()
            except Exception:
                log.exception(
                    "lineage step failed; the run is stored, its lineage objects come later",
                    extra={"fields": {"location": identity.location}},
                )

        return guarded

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
        self,
        identity: RunIdentity,
        graph: RunGraph,
        diff: object,
        org_graph: OrgGraph,
        systems: list[str | None],
    ) -> bool:
        """Whether the run's blast radius is small enough to compute inside its ingest."""
        changes = diff if isinstance(diff, dict) else {}
        limit = self.ingest_reach
        reach = reach_total(changes, org_graph, depth=self.depth, limit=limit, systems=systems)
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
        fetched: tuple[RegistryVersion | None] | None = None,
        systems: list[str | None] | None = None,
    ) -> dict[str, Any]:
        org_graph, version = org or self.orgs.feed(identity.organization).current()
        changes = diff if isinstance(diff, dict) else {}
        (registry,) = fetched or (self.registries.latest(identity.organization),)
        result = classify_run(
            changes,
            org_graph,
            location_of(identity),
            field_systems=graph.fields,
            registry=registry.registry if registry else None,
            depth=self.depth,
            systems=systems,
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
