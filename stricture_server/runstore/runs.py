"""The run store: a run is stored once, ever, per organization/project/service/run id.

Two objects per run, both written with the storage's create-if-absent:

1. the *claim*, at a date-free key (``.../runs/run=<id>.json``), holding the record's
   digest and its dated key. Whoever creates it owns the run id, on every driver and across
   machines sharing a bucket, because the store decides, not this process;
2. the *record*, at the canonical dated key.

A crash between the two leaves a claim without a record: the next identical replay writes the
record; a different body is refused (409) with a message saying the record is missing, and a
read answers :class:`RecordMissing`. Every read checks the record against its digest and its
claim (:mod:`.integrity`): a corrupt one is :class:`RecordCorrupt`, never served.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from ..errors import (
    ObjectExists,
    ObjectNotFound,
    RecordCorrupt,
    RecordExists,
    RecordMissing,
    RecordNotFound,
)
from ..storage import Storage, exists
from .integrity import Claim, Corrupt, parse_claim, record_digest
from .records import NewRecord, RunIdentity

log = logging.getLogger(__name__)

CORRUPT_CLAIM = (
    "the claim of this run id fails its integrity check, so the run id takes no new record; "
    "`stricture-server verify` names it for repair"
)
MISSING_RECORD = (
    "a run with this run_id is claimed with different content but its record is missing: "
    "send the first body again to store it; `stricture-server verify` lists such runs"
)


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A run's record as read, checked against its digest."""

    identity: RunIdentity
    data: bytes
    digest: str


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
        accepted = self.claim(record, received)
        self.store_record(accepted, record)
        return accepted

    def claim(self, record: NewRecord, received: datetime) -> Accepted:
        """Claim the run id: a new run, an identical replay, or :class:`RecordExists`.

        Nothing else is written here: the caller stores the record (:meth:`store_record`),
        for a replay only if it is missing, so a replay of a 10 MB run uploads no record.
        """
        identity = record.identity
        key = identity.payload_key(self.prefix, record.day)
        received_at = format_time(received)
        claim = orjson.dumps({"digest": record.digest, "key": key, "received_at": received_at})
        try:
            self.storage.create(identity.claim_key(self.prefix), claim)
        except ObjectExists:
            try:
                existing = self._claim(identity)
            except RecordCorrupt:
                # Not a 500 on every retry: the client learns the run id is unusable.
                raise RecordExists(identity.location, CORRUPT_CLAIM) from None
            if existing.digest != record.digest:
                if not exists(self.storage, existing.key):
                    raise RecordExists(identity.location, MISSING_RECORD) from None
                raise RecordExists(identity.location) from None
            # An identical replay: it completes a first attempt that stopped between claim and
            # record with the claim's key and time, so the record always agrees with its claim.
            return Accepted(identity, existing.key, replay=True, received_at=existing.received_at)
        return Accepted(identity, key, replay=False, received_at=received_at)

    def store_record(self, accepted: Accepted, record: NewRecord) -> None:
        """Create the claimed run's record (a no-op when it is stored)."""
        # Only the claim holder writes here, always with the claimed digest.
        with suppress(ObjectExists):
            self.storage.create(accepted.key, record.stored_bytes(accepted.received_at))

    def _claim(self, identity: RunIdentity) -> Claim:
        key = identity.claim_key(self.prefix)
        try:
            return parse_claim(self.storage.read(key))
        except Corrupt as exc:
            raise _corrupt(identity, key, str(exc)) from None

    def record_key(self, identity: RunIdentity) -> str:
        """The key of the run's record, from its claim; :class:`RecordNotFound` when unclaimed."""
        try:
            return self._claim(identity).key
        except ObjectNotFound:
            raise RecordNotFound(identity.location) from None

    def read(self, identity: RunIdentity) -> bytes:
        """The stored record's bytes, checked: see :meth:`read_record`."""
        return self.read_record(identity).data

    def read_record(self, identity: RunIdentity) -> StoredRun:
        """The stored record, checked against its digest and its claim.

        :class:`RecordNotFound` when the run id is not claimed, :class:`RecordMissing` when it
        is but the record is not stored, :class:`RecordCorrupt` when either fails its check.
        """
        try:
            claim = self._claim(identity)
        except ObjectNotFound:
            raise RecordNotFound(identity.location) from None
        try:
            stored = checked(identity, claim.key, self.storage.read(claim.key))
        except ObjectNotFound:
            log.warning("claim without its record", extra={"fields": {"key": claim.key}})
            raise RecordMissing(identity.location, claim.key) from None
        if stored.digest != claim.digest:
            raise _corrupt(identity, claim.key, "the record's digest is not its claim's")
        return stored


def checked(identity: RunIdentity, key: str, data: bytes) -> StoredRun:
    """The record ``data`` read from ``key``, or :class:`RecordCorrupt` if it fails its digest."""
    try:
        return StoredRun(identity, data, record_digest(data))
    except Corrupt as exc:
        raise _corrupt(identity, key, str(exc)) from None


def _corrupt(identity: RunIdentity, key: str, reason: str) -> RecordCorrupt:
    log.error("record fails its integrity check", extra={"fields": {"key": key, "reason": reason}})
    return RecordCorrupt(identity.location, key, reason)
