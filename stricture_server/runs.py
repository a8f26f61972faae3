"""The run store: a run is stored once, ever, per organization/project/service/run id.

Two objects per run, both written with the storage's create-if-absent:

1. the *claim*, at a date-free key (``.../runs/run=<id>.json``), holding the record's
   digest and its dated key. Whoever creates it owns the run id, on every driver and across
   machines sharing a bucket, because the store decides, not this process;
2. the *record*, at the canonical dated key.

A crash between the two leaves a claim without a record: the next identical replay writes the
record; a different body is refused (409) as for any stored run.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from .errors import ObjectExists, ObjectNotFound, RecordExists, RecordNotFound
from .records import NewRecord, RunIdentity
from .storage import Storage


@dataclass(frozen=True, slots=True)
class Accepted:
    """The answer to an ingest: the run and whether it was stored by this call."""

    identity: RunIdentity
    key: str
    replay: bool
    received_at: str
    """When the run was first received: a replay keeps the first attempt's time."""


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, the form of every time the server writes."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunStore:
    """Create and read run records on any :class:`Storage`."""

    def __init__(self, storage: Storage, prefix: str) -> None:
        self.storage = storage
        self.prefix = prefix

    def create(self, record: NewRecord, received: datetime) -> Accepted:
        """Store a new run, answer an identical replay, or raise :class:`RecordExists`."""
        identity = record.identity
        key = identity.payload_key(self.prefix, record.day)
        received_at = format_time(received)
        claim = orjson.dumps({"digest": record.digest, "key": key, "received_at": received_at})
        try:
            self.storage.create(identity.claim_key(self.prefix), claim)
        except ObjectExists:
            existing = self._claim(identity)
            if existing["digest"] != record.digest:
                raise RecordExists(identity.location) from None
            # An identical replay. Writing the record again is a no-op when it exists and
            # completes a first attempt that stopped between claim and record, with the
            # claim's time, so the record always agrees with its claim.
            key, received_at = existing["key"], existing["received_at"]
            self._create_record(key, record.stored_bytes(received_at))
            return Accepted(identity, key, replay=True, received_at=received_at)
        self._create_record(key, record.stored_bytes(received_at))
        return Accepted(identity, key, replay=False, received_at=received_at)

    def _create_record(self, key: str, data: bytes) -> None:
        # Only the claim holder writes here, always with the claimed digest.
        with suppress(ObjectExists):
            self.storage.create(key, data)

    def _claim(self, identity: RunIdentity) -> dict[str, str]:
        claim: dict[str, str] = orjson.loads(self.storage.read(identity.claim_key(self.prefix)))
        return claim

    def read(self, identity: RunIdentity) -> bytes:
        """The stored record's bytes, or :class:`RecordNotFound`."""
        try:
            return self.storage.read(self._claim(identity)["key"])
        except ObjectNotFound:
            raise RecordNotFound(identity.location) from None
