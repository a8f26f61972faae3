"""Storing a validated ingest: the claim first, then every other object of the run at once.

The claim decides whether this request owns the run id, so it goes first. The record, the
index objects and the lineage objects do not depend on each other: on an object store they
are sent together (:mod:`.writes`), so a new run costs two round trips, the claim and the
slowest of the others; the reads a blast radius needs are sent with the claim, and the
request's audit event, which needs only the claim's answer, with the others. On a
filesystem they are sent together the same way while the request is alone in its process,
so their fsyncs overlap, and one after the other otherwise. The answer waits for all of
them, and a failure of the record's or an index object's write fails the
ingest as it would alone (the lineage writes never do: :mod:`..blast.derive`).

An identical replay writes only what its first attempt did not store: it asks, with one
listing per object, before sending anything, so a replay of a 10 MB run uploads no record
again only to be refused, and still completes a first attempt that stopped after its claim.
On the ``mirror`` driver it creates them again instead (locally, refused when stored), which
also queues them for replication again: the mirror's own repair.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..blast.derive import RunLineage
from ..errors import ObjectExists
from ..lineage.edges import RunGraph
from ..runstore.index import Index, RunFacts
from ..runstore.records import NewRecord
from ..runstore.runs import Accepted, RunStore
from ..storage import Storage, exists
from .writes import Writes


@dataclass(frozen=True, slots=True)
class StoredRun:
    """What storing a run gave: the claim's answer, the run's facts, its blast radius."""

    accepted: Accepted
    facts: RunFacts
    blast_radius: dict[str, Any] | None
    """The blast radius stored by this ingest, or None (a replay, no diff, out of reach)."""


class RunWriter:
    """Stores a run: its claim, then its record, index and lineage objects together."""

    def __init__(
        self,
        runs: RunStore,
        index: Index,
        lineage: RunLineage,
        writes: Writes,
        *,
        replays_ask_first: bool = True,
    ) -> None:
        self.runs = runs
        self.index = index
        self.lineage = lineage
        self.writes = writes
        # False for the mirror driver: its creates are local, and one refused queues the
        # object for replication again, which completes a first attempt that crashed between
        # its local write and its outbox entry; and its listings ask the object store too.
        self.replays_ask_first = replays_ask_first

    def store(
        self,
        record: NewRecord,
        received: datetime,
        fields: Mapping[str, Any],
        graph: RunGraph | None,
        claimed: Callable[[Accepted], Sequence[Callable[[], object]]] | None = None,
    ) -> StoredRun:
        """Claim and store the run (``fields``: the envelope without its artifact).

        ``claimed`` gives, from the claim's answer, more writes to send with the run's own,
        after them in order (the request's audit event): they depend on the claim, not on the
        run's other objects, so they cost no round trip of their own.
        """
        diff = fields.get("diff")
        # The reads a blast radius needs, sent with the claim rather than after it.
        prefetched = self.lineage.prefetch(record.identity, graph, diff, self.writes.start)
        accepted = self.runs.claim(record, received)
        # Indexed with the run's first received time, so an identical replay also completes
        # the index of a first attempt that stopped early.
        facts = RunFacts.from_fields(record.identity, fields, accepted.received_at)
        service = facts.service
        # Names first: an index object is never stored before its service can be listed.
        # Free once this process knows the service.
        self.index.names.add(service.organization, service.project, service.service)
        storage, replay = self.runs.storage, accepted.replay
        ask_first = replay and self.replays_ask_first

        def record_bytes() -> bytes:
            return record.stored_bytes(accepted.received_at)

        writes = [_creation(storage, accepted.key, record_bytes, ask_first)]
        for key, body in facts.objects(self.index.prefix):
            writes.append(_creation(storage, key, _constant(body), ask_first))
        blast: list[dict[str, Any]] = []
        writes += self.lineage.ingest_writes(
            record.identity,
            accepted.key,
            facts.summary.time_ms,
            accepted.received_at,
            graph,
            diff,
            replay=replay,
            prefetched=prefetched,
            stored=blast,
        )
        self.writes.all([*writes, *(claimed(accepted) if claimed is not None else ())])
        # After the timeline entry, never beside it (see RunFacts.late_objects).
        for key, body in facts.late_objects(self.index.prefix):
            _creation(storage, key, _constant(body), ask_first)()
        return StoredRun(accepted, facts, blast[0] if blast else None)


def _constant(body: bytes) -> Callable[[], bytes]:
    return lambda: body


def _creation(
    storage: Storage, key: str, data: Callable[[], bytes], ask_first: bool
) -> Callable[[], None]:
    """The create-if-absent of ``key``; with ``ask_first``, only if a listing does not find it."""

    def create() -> None:
        if ask_first and exists(storage, key):
            return
        # Only the claim holder writes a run's objects, always the same bytes: a create
        # refused because the object is stored finds what it would have written.
        with suppress(ObjectExists):
            storage.create(key, data())

    return create
