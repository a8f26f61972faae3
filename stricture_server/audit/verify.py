"""Verify a log: walk its seal chain and name every object missing, altered or inserted.

From the newest seal back, each seal must name the one before it with the sha256 of its bytes.
Within ``from``/``to``, every sealed event must be stored with the bytes sealed, every sealed
record with its digest; every event and record stored in the sealed span must be in a seal.
What the chain cannot show: a newest seal removed or rewritten along with what it lists (its
successor does not exist yet). The answer gives the head seal and its hash, to keep elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..commands.reindex import record_keys
from ..errors import ObjectNotFound
from ..reads.query_params import Args, parse
from ..runstore.integrity import Corrupt, record_digest
from ..runstore.records import parse_rfc3339
from ..storage import Storage
from .events import MAX_MS, event_key, events_root, is_event_name, log_root, time_of
from .seals import BadSeal, Seal, parse_seal, seals_root, sha256
from .trail import rfc3339

_SEAL_NAME = re.compile(r"^[0-9]{13}\.json$")
MAX_PROBLEMS = 1000
"""Most problems one answer lists; the rest are counted."""


@dataclass
class Report:
    """What a verification found, as it goes."""

    problems: list[dict[str, str]] = field(default_factory=list)
    omitted: int = 0
    events: int = 0
    records: int = 0
    unsealed: list[str] = field(default_factory=list)

    def add(self, kind: str, what: str, key: str, seal: str | None, detail: str) -> None:
        """Record one problem (counted only, past :data:`MAX_PROBLEMS`)."""
        if len(self.problems) >= MAX_PROBLEMS:
            self.omitted += 1
            return
        found = {"problem": kind, "object": what, "key": key, "detail": detail}
        if seal is not None:
            found["seal"] = seal
        self.problems.append(found)


def verify_query(storage: Storage, prefix: str, organization: str, args: Args) -> dict[str, Any]:
    """``GET /v1/audit/{org}/verify?from=&to=``: :func:`verify_log` over whole UTC days."""
    query = parse(args, ("from", "to"))
    return verify_log(storage, prefix, organization, query.start_ms, query.end_ms)


def verify_log(
    storage: Storage,
    prefix: str,
    organization: str,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> dict[str, Any]:
    """Verify one log's seals, events and records within ``start_ms``..``end_ms`` (inclusive)."""
    root = log_root(prefix, organization)
    report = Report()
    chain, oldest = _walk_chain(storage, root, report)
    sealed_events: dict[str, str] = {}
    sealed_records: set[str] = set()
    for seal in chain:
        sealed_events.update(seal.events)
        sealed_records.update(seal.records)
    low = -1 if start_ms is None else start_ms
    high = 10**13 if end_ms is None else end_ms + 1
    in_range = [s for s in chain if s.end_ms > low and s.start_ms < high]
    for seal in in_range:
        _check_contents(storage, root, seal, report)
    if chain:
        span = (max(oldest, low), min(chain[0].end_ms, high))
        _find_inserted_events(storage, root, span, chain[0], sealed_events, report)
        _find_inserted_records(
            storage, prefix, organization, span, chain[0].start_ms, sealed_records, report
        )
    answer: dict[str, Any] = {
        "organization": organization or None,
        "intact": not report.problems and not report.omitted,
        "from": None if start_ms is None else rfc3339(start_ms),
        "to": None if end_ms is None else rfc3339(end_ms),
        "seals": len(chain),
        "seals_checked": len(in_range),
        "events_checked": report.events,
        "records_checked": report.records,
        "head": {"seal": chain[0].name, "sha256": chain[0].sha256} if chain else None,
        "problems": report.problems,
        "problems_omitted": report.omitted,
        "unsealed": report.unsealed,
    }
    return answer


def _walk_chain(storage: Storage, root: str, report: Report) -> tuple[list[Seal], int]:
    """The seals linked from the newest back, newest first, and the start of the oldest period
    named (a missing seal's too); problems for breaks and strays."""
    stored: dict[str, bytes] = {}
    for key in storage.list(seals_root(root)):
        stored[key.rsplit("/", 1)[1]] = storage.read(key)
    if not stored:
        return [], 0
    chain: list[Seal] = []
    oldest = 0
    name: str | None = min(stored)  # inverted: the newest period
    expected: str | None = None
    while name is not None:
        key = seals_root(root) + name
        data = stored.pop(name, None)
        if data is None:
            report.add("missing", "seal", key, None, "named by the next seal, not stored")
            if _SEAL_NAME.match(name):
                oldest = MAX_MS - int(name[:13])
            break
        if expected is not None and sha256(data) != expected:
            report.add(
                "altered", "seal", key, None, "its sha256 is not the one the next seal names"
            )
        try:
            seal = parse_seal(name, data)
        except BadSeal as exc:
            report.add("altered", "seal", key, None, str(exc))
            break
        chain.append(seal)
        oldest = seal.start_ms
        name, expected = seal.previous or (None, None)
    for stray in sorted(stored):
        report.add("inserted", "seal", seals_root(root) + stray, None, "not in the seal chain")
    return chain, oldest


def _check_contents(storage: Storage, root: str, seal: Seal, report: Report) -> None:
    for name, digest in seal.events.items():
        report.events += 1
        key = event_key(root, name) if is_event_name(name) else f"{events_root(root)}{name}"
        try:
            data = storage.read(key)
        except ObjectNotFound:
            report.add("missing", "event", key, seal.name, "sealed, not stored")
            continue
        if sha256(data) != digest:
            report.add("altered", "event", key, seal.name, "its sha256 is not the sealed one")
    for key, digest in seal.records.items():
        report.records += 1
        try:
            found = record_digest(storage.read(key))
        except ObjectNotFound:
            report.add("missing", "record", key, seal.name, "sealed, not stored")
            continue
        except Corrupt as exc:
            report.add("altered", "record", key, seal.name, str(exc))
            continue
        if found != digest:
            report.add("altered", "record", key, seal.name, "its digest is not the sealed one")


def _find_inserted_events(
    storage: Storage,
    root: str,
    span: tuple[int, int],
    head: Seal,
    sealed: dict[str, str],
    report: Report,
) -> None:
    start, end = span
    for key in storage.list(events_root(root)):
        name = key.rsplit("/", 1)[1]
        if not is_event_name(name):
            report.add("inserted", "event", key, None, "not an event's name")
            continue
        time_ms = time_of(name)
        if time_ms >= end:
            continue
        if time_ms < start:
            break
        if name in sealed:
            continue
        if time_ms >= head.start_ms:
            report.unsealed.append(key)  # written late: the next seal takes it
        else:
            report.add("inserted", "event", key, None, "in a sealed period, in no seal")


def _find_inserted_records(
    storage: Storage,
    prefix: str,
    organization: str,
    span: tuple[int, int],
    head_start: int,
    sealed: set[str],
    report: Report,
) -> None:
    if not organization:
        return
    first, last = rfc3339(span[0])[:10], rfc3339(span[1] - 1)[:10]
    for key in record_keys(storage, prefix, (organization,)):
        day = key.rpartition("/date=")[2][:10]
        if key in sealed or not first <= day <= last:
            continue
        received = _received_ms(storage, key)
        if received is None or not span[0] <= received < span[1]:
            continue
        if received >= head_start:
            report.unsealed.append(key)  # stored late, as its event: the next seal takes it
        else:
            report.add("inserted", "record", key, None, "received in a sealed period, in no seal")


def _received_ms(storage: Storage, key: str) -> int | None:
    try:
        found = orjson.loads(storage.read(key))
        return int(parse_rfc3339(found["received_at"]).timestamp() * 1000)
    except (ObjectNotFound, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
