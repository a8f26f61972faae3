"""``stricture-server replicate``: drain the mirror's outbox once, for cron, backfills and tests."""

from __future__ import annotations

import orjson

from .. import logs
from ..settings import Settings
from ..storage.mirror import open_mirror_storage


def replicate_once(settings: Settings) -> int:
    """Copy every pending record; 1 if any failed or the store was unavailable, else 0."""
    logs.configure(settings.log_level)
    storage = open_mirror_storage(settings)
    result = storage.replicator.drain()
    summary = {
        "replicated_now": result.replicated,
        "failed_now": result.failed,
        "unavailable": result.unavailable or None,
        **storage.replication_status(),
    }
    print(orjson.dumps(summary).decode(), flush=True)
    return 1 if result.failed or result.unavailable else 0
