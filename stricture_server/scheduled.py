"""The periodic tasks of a server, behind one function every platform's schedule calls.

Function mode has no background thread: a scheduled entry (an EventBridge schedule, Cloud
Scheduler, an Azure timer, or ``stricture-server deliver`` from cron) calls
:func:`run_scheduled`, which runs each task once. Today that is alert delivery; each task adds
its own entry to the answer.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from . import logs
from .settings import Settings
from .storage import Storage, open_storage

log = logging.getLogger(__name__)


def run_scheduled(settings: Settings, storage: Storage | None = None) -> dict[str, Any]:
    """Run every periodic task once; what each did. A store failure raises."""
    from .alerts.setup import deliverer

    store = storage if storage is not None else open_storage(settings)
    done: dict[str, Any] = {}
    alerts = deliverer(settings, store, settings.object_prefix)
    done["alerts"] = alerts.run_once().as_json() if alerts is not None else None
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
