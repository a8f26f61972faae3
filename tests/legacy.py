"""Stores as earlier versions wrote them: without name entries, or with nested org feed entries."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from stricture_server.runstore.index import RunFacts
from stricture_server.runstore.records import normalize
from stricture_server.runstore.runs import RunStore
from stricture_server.storage import Storage

from . import factory


def store_run(runs: RunStore, when: datetime, **names: str) -> None:
    """Store a run (``run_id`` ``old``) and its timeline entry, and no name entry."""
    document = factory.envelope(run_id="old", **names)
    record = normalize(document, when)
    accepted = runs.create(record, when)
    facts = RunFacts.from_fields(record.identity, document, accepted.received_at)
    for key, body in facts.objects(runs.prefix):
        runs.storage.create(key, body)


_ORG_ENTRY = re.compile(r"^(?P<root>.*/compact/v1/org=[^/]+/(?:runs|late)/)(?P<name>[^/]+)$")


def nested_key(key: str) -> str | None:
    """The key an earlier version stored a flat organization feed or late entry under
    (``<run>/<project>/<service>``); None for any other key."""
    found = _ORG_ENTRY.match(key)
    if found is None or ")" not in found["name"]:
        return None
    run, _, names = found["name"].partition(")")
    project, _, service = names.partition(".")
    return f"{found['root']}{run}/{project}/{service}"


def copy_in_layouts(source: Storage, target: Storage, layout: Callable[[int], str]) -> None:
    """Copy ``source`` into ``target``, the ``n``-th flat organization feed or late entry
    stored as ``layout(n)`` says: ``"flat"``, ``"nested"`` (:func:`nested_key`) or ``"both"``."""
    n = 0
    for key in source.list(""):
        nested = nested_key(key)
        keys = [key]
        if nested is not None:
            keys = {"flat": [key], "nested": [nested], "both": [key, nested]}[layout(n)]
            n += 1
        for copy in keys:
            target.create(copy, source.read(key))
