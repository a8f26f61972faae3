"""``stricture-server deliver``: the periodic tasks once (alerts, audit seals), for cron."""

from __future__ import annotations

import sys

import orjson

from .. import logs
from ..errors import StorageUnavailable
from ..scheduled import run_scheduled
from ..settings import Settings


def deliver_command(settings: Settings) -> int:
    """One pass; print what it did as JSON. 1 if the store was unavailable, else 0."""
    logs.configure(settings.log_level)
    try:
        done = run_scheduled(settings)
    except StorageUnavailable as exc:
        print(f"stricture-server: the store is unavailable: {exc.reason}", file=sys.stderr)
        return 1
    print(orjson.dumps(done).decode(), flush=True)
    return 0
