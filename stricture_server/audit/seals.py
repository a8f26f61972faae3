"""Seals: one create-if-absent object per closed period of a log, chained by hash.

A seal lists the period's events (file name and sha256 of the stored bytes) and the records
their ingests stored (key and digest), and names the previous seal with the sha256 of its
bytes. Its key is the period's start, inverted like event keys, so the newest seal lists first::

    <log root>seals/<inverted period start ms>.json

A period is sealed once it ended more than :data:`GRACE_MS` ago. Periods without events get no
seal; the next seal still names the previous one. An event written after its period was sealed
(a writer stalled past the grace) is sealed with the next period, listed under ``late``; one
older than the newest seal's period is never sealed, and verify names it as inserted. Two
processes sealing at once race on one create: one seal is stored, the other process stops and
leaves the rest to the next pass.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from ..errors import ObjectExists, ObjectNotFound
from ..storage import Storage
from .events import (
    MAX_MS,
    audit_root,
    events_root,
    first_key_before,
    is_event_name,
    log_root,
    organization_of_entry,
    time_of,
)
from .trail import rfc3339

log = logging.getLogger(__name__)

GRACE_MS = 60_000
"""How long after a period ends its seal waits, for requests answered at its end to land."""


def seals_root(root: str) -> str:
    """The key prefix of a log's seals."""
    return f"{root}seals/"


def seal_name(start_ms: int) -> str:
    """The file name of the seal of the period starting at ``start_ms``."""
    return f"{MAX_MS - start_ms:013d}.json"


def sha256(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Seal:
    """A stored seal, parsed: its name, bytes' hash, period, link and contents."""

    name: str
    sha256: str
    start_ms: int
    end_ms: int
    previous: tuple[str, str] | None
    """The previous seal's file name and sha256, or None for the first seal of a log."""
    events: dict[str, str]
    """File name to sha256 of each event sealed here (late ones included)."""
    records: dict[str, str]
    """Key to digest of each record the sealed ingests stored."""


class BadSeal(ValueError):
    """A stored seal that is not one; the message says why."""


def parse_seal(name: str, data: bytes) -> Seal:
    """The seal stored under ``name``, or :class:`BadSeal`."""
    try:
        doc = orjson.loads(data)
        previous = doc["previous"]
        seal = Seal(
            name=name,
            sha256=sha256(data),
            start_ms=int(doc["period"]["start_ms"]),
            end_ms=int(doc["period"]["end_ms"]),
            previous=None if previous is None else (previous["seal"], previous["sha256"]),
            events={e["name"]: e["sha256"] for e in [*doc["events"], *doc["late"]]},
            records={r["key"]: r["digest"] for r in doc["records"]},
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BadSeal(f"not a seal: {exc!r}") from None
    if seal_name(seal.start_ms) != name:
        raise BadSeal("its period does not match its name")
    return seal


def latest_seal(storage: Storage, root: str) -> Seal | None:
    """The newest seal of the log at ``root``, or None."""
    for key in storage.list(seals_root(root)):
        name = key.rsplit("/", 1)[1]
        return parse_seal(name, storage.read(key))
    return None


def log_organizations(storage: Storage, prefix: str) -> Iterator[str]:
    """Every log's organization (:data:`~.events.SERVER_LOG` for the server log)."""
    for key in storage.list(f"{audit_root(prefix)}logs/"):
        yield organization_of_entry(key)


def seal_due(storage: Storage, prefix: str, now_ms: int, period_ms: int) -> list[str]:
    """Seal every closed period of every log; the keys of the seals this call stored."""
    stored: list[str] = []
    for organization in log_organizations(storage, prefix):
        stored += seal_log(storage, prefix, organization, now_ms, period_ms)
    return stored


def seal_log(
    storage: Storage, prefix: str, organization: str, now_ms: int, period_ms: int
) -> list[str]:
    """Seal the closed periods of one log not sealed yet; the keys of the seals stored."""
    root = log_root(prefix, organization)
    cutoff = (now_ms - GRACE_MS) // period_ms * period_ms
    latest = latest_seal(storage, root)
    since = latest.start_ms if latest else 0
    late: list[_Entry] = []
    periods: dict[int, list[_Entry]] = {}
    for key in storage.list(events_root(root), first_key_before(root, cutoff)):
        name = key.rsplit("/", 1)[1]
        if not is_event_name(name):
            continue
        time_ms = time_of(name)
        if time_ms < since:
            break
        if latest is not None and time_ms < latest.end_ms:
            if name not in latest.events:
                late.append(_entry(storage, key, name))
            continue
        start = max(time_ms // period_ms * period_ms, latest.end_ms if latest else 0)
        periods.setdefault(start, []).append(_entry(storage, key, name))
    if late and not periods and latest is not None and cutoff > latest.end_ms:
        periods[max(cutoff - period_ms, latest.end_ms)] = []
    stored: list[str] = []
    previous = latest
    for start in sorted(periods):
        end = start // period_ms * period_ms + period_ms
        data = _seal_bytes(organization, start, end, previous, periods[start], late)
        key = seals_root(root) + seal_name(start)
        try:
            storage.create(key, data)
        except ObjectExists:
            log.info("period sealed by another process", extra={"fields": {"seal": key}})
            break
        stored.append(key)
        previous = parse_seal(seal_name(start), data)
        late = []
    return stored


@dataclass(frozen=True, slots=True)
class _Entry:
    """What a seal keeps of one event: its name and hash, and the record its ingest stored."""

    name: str
    sha256: str
    record: str | None
    digest: str | None


def _entry(storage: Storage, key: str, name: str) -> _Entry:
    """The event at ``key``, read once and kept small: a period may hold many."""
    try:
        data = storage.read(key)
    except ObjectNotFound:
        data = b""  # listed, then gone: sealed as empty, so verify names it
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        event = None
    if not isinstance(event, dict):
        event = {}
    record, digest = event.get("record"), event.get("digest")
    if not (isinstance(record, str) and isinstance(digest, str)):
        record = digest = None
    return _Entry(name, sha256(data), record, digest)


def _seal_bytes(
    organization: str,
    start: int,
    end: int,
    previous: Seal | None,
    events: list[_Entry],
    late: list[_Entry],
) -> bytes:
    records = {e.record: e.digest for e in [*events, *late] if e.record is not None}
    link = None if previous is None else {"seal": previous.name, "sha256": previous.sha256}
    doc = {
        "organization": organization or None,
        "period": {"start": rfc3339(start), "end": rfc3339(end), "start_ms": start, "end_ms": end},
        "previous": link,
        # Oldest first, as they happened.
        "events": [{"name": e.name, "sha256": e.sha256} for e in reversed(events)],
        "late": [{"name": e.name, "sha256": e.sha256} for e in reversed(late)],
        "records": [{"key": k, "digest": v} for k, v in sorted(records.items())],
    }
    return orjson.dumps(doc)
