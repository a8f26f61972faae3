"""The periodic tasks of a server, behind one function every platform's schedule calls.

Function mode has no background thread: a scheduled entry (an EventBridge schedule, Cloud
Scheduler, an Azure timer, or ``stricture-server deliver`` from cron) calls
:func:`run_scheduled`, which runs each task once: alert delivery and the audit trail's
sealing. Each task adds its own entry to the answer.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from . import logs
from .settings import Settings
from .storage import Storage, open_storage

log = logging.getLogger(__name__)


def run_scheduled(settings: Settings, storage: Storage | None = None) -> dict[str, Any]:
    """Run every periodic task once; what each did. A store failure raises."""
    from .alerts.setup import deliverer
    from .audit.seals import seal_due

    store = storage if storage is not None else open_storage(settings)
    done: dict[str, Any] = {}
    alerts = deliverer(settings, store, settings.object_prefix)
    done["alerts"] = alerts.run_once().as_json() if alerts is not None else None
    now_ms = int(time.time() * 1000)
    sealed = seal_due(store, settings.object_prefix, now_ms, settings.audit_seal_seconds * 1000)
    done["audit"] = {"seals": len(sealed)}
    log.info("scheduled tasks ran", extra={"fields": done})
    return done


def scheduled_task(env: Mapping[str, str]) -> Callable[[], dict[str, Any]]:
    """:func:`run_scheduled` for a function's schedule, its settings and store made on the
    first call and kept: an entry file that also serves the API pays nothing at cold start."""
    snapshot = dict(env)

    @functools.cache
    def prepared() -> tuple[Settings, Storage]:
        from .alerts.setup import alerts_config
        from .function import function_settings

        settings = function_settings(snapshot)
        alerts_config(settings)
        logs.configure(settings.log_level)
        return settings, open_storage(settings)

    return lambda: run_scheduled(*prepared())
