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
        document = orjson.loads(storage.read(keys.beside(record_key, keys.BLAST_RADIUS)))
        changes = document["changes"]
        return [c.get("impact") if isinstance(c, dict) else None for c in changes]
    except (ObjectNotFound, orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        # Missing or unreadable, the feed still answers: the impact is then unknown to it.
        return []
