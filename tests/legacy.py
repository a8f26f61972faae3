"""Stores as a version from before name entries wrote them: records and index objects only."""

from __future__ import annotations

from datetime import datetime

from stricture_server.runstore.index import RunFacts
from stricture_server.runstore.records import normalize
from stricture_server.runstore.runs import RunStore

from . import factory


def store_run(runs: RunStore, when: datetime, **names: str) -> None:
    """Store a run (``run_id`` ``old``) and its timeline entry, and no name entry."""
    document = factory.envelope(run_id="old", **names)
    record = normalize(document, when)
    accepted = runs.create(record, when)
    facts = RunFacts.from_fields(record.identity, document, accepted.received_at)
    for key, body in facts.objects(runs.prefix):
        runs.storage.create(key, body)
