"""Damaged stores, as a crash, a full disk or a bad copy leaves them, written through the
store's own create (nothing is ever overwritten, so the damage is planted before any ingest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from stricture_server.runstore.entries import inverted, to_ms
from stricture_server.runstore.index import TIMELINE, RunFacts, ServiceRef
from stricture_server.runstore.records import RunIdentity, normalize
from stricture_server.runstore.runs import format_time
from stricture_server.storage import Storage

RECEIVED = datetime(2026, 3, 1, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Planted:
    """Where a planted run's objects are."""

    identity: RunIdentity
    claim_key: str
    record_key: str
    record: bytes
    """The record as it should have been stored."""
    claim: bytes
    """The claim as it should have been stored."""


def truncated(data: bytes) -> bytes:
    """A record cut short, as a full disk leaves it."""
    return data[: len(data) // 2]


def plant(
    storage: Storage,
    prefix: str,
    document: dict[str, Any],
    record: Callable[[bytes], bytes | None] = lambda data: data,
    claim: Callable[[bytes], bytes] = lambda data: data,
    indexed: bool = False,
) -> Planted:
    """Store the run ``document`` as an ingest would, with its record and claim passed through
    ``record`` (None: not written) and ``claim``; with ``indexed``, its index objects too."""
    new = normalize(document, RECEIVED)
    identity = new.identity
    key = identity.payload_key(prefix, new.day)
    received_at = format_time(RECEIVED)
    good_claim = orjson.dumps({"digest": new.digest, "key": key, "received_at": received_at})
    storage.create(identity.claim_key(prefix), claim(good_claim))
    stored = new.stored_bytes(received_at)
    damaged = record(stored)
    if damaged is not None:
        storage.create(key, damaged)
    if indexed:
        for index_key, body in RunFacts.from_record(stored).objects(prefix):
            storage.create(index_key, body)
    return Planted(identity, identity.claim_key(prefix), key, stored, good_claim)


def plant_index_entry(
    storage: Storage, prefix: str, service: ServiceRef, run_id: str, body: bytes, when: datetime
) -> str:
    """A timeline entry whose summary is only in its body (``b``), with ``body``; its key."""
    ms = inverted(to_ms(when))
    key = f"{service.index_prefix(prefix)}{TIMELINE}{ms}!{ms}!{run_id}!b"
    storage.create(key, body)
    return key
