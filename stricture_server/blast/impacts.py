"""The impact of each change of a run, as its stored blast radius gives it, for the change feed.

One read per run: ``blast-radius.json`` beside the record, whose key the run's time gives (the
record's day is that of its ``generated_at``, else of its receipt, as the timeline's time).
A run whose blast radius is not stored yet (its ingest's lineage step did not finish, and no
one has read it since) gives ``None`` for each change.
"""

from __future__ import annotations

import orjson

from ..errors import ObjectNotFound
from ..runstore.entries import Summary, day_of
from ..runstore.index import ServiceRef
from ..storage import Storage
from . import keys


def stored_impacts(
    storage: Storage, prefix: str, service: ServiceRef, summary: Summary
) -> list[str | None]:
    """The impact of each change of the run by its index; ``[]`` when none is stored."""
    record_key = service.run(summary.run_id).payload_key(prefix, day_of(summary.time_ms))
    try:
        return impacts_in(storage.read(keys.beside(record_key, keys.BLAST_RADIUS)))
    except ObjectNotFound:
        # Missing, the feed still answers: the impact is then unknown to it.
        return []


def impacts_in(document: bytes) -> list[str | None]:
    """The impact of each change by its index in a blast radius; ``[]`` if it is unreadable."""
    try:
        changes = orjson.loads(document)["changes"]
        return [c.get("impact") if isinstance(c, dict) else None for c in changes]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return []
