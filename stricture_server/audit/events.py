"""Audit events: what one holds and where it is stored.

Every log (one per organization, and one for requests that name none) lives under its own
root; an event is one create-only object whose key sorts newest first::

    <prefix>/audit/v1/org=<org>/events/<inverted hour>/<inverted ms>-<random>.json
    <prefix>/audit/v1/server/events/...

"Inverted" is a fixed maximum minus the value, zero-padded, so a plain listing (lexical order)
starts at the newest event and a page resumes after the last key it gave. The random part
makes two events of the same millisecond two objects; the request id is in the event itself.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

HOUR_MS = 3_600_000
MAX_MS = 10**13 - 1
"""The largest millisecond time a key can hold (the year 2286)."""
MAX_HOUR = MAX_MS // HOUR_MS
SERVER_LOG = ""
"""The log of requests that name no organization (a denied ingest, whose body is not read)."""

_NAME = re.compile(r"^(?P<inverted>[0-9]{13})-[0-9a-f]{16}\.json$")


@dataclass(frozen=True, slots=True)
class Event:
    """One audited request: who did what to which target, and how it ended."""

    time_ms: int
    request_id: str
    identity: Mapping[str, str]
    action: str
    result: str
    status: int
    target: Mapping[str, str] = field(default_factory=dict)
    digest: str = ""
    """The run's record digest, for an ingest that stored or found one."""
    record: str = ""
    """The run's record key, for an ingest that stored or found one: seals list it."""

    @property
    def organization(self) -> str:
        """The log the event belongs to: its target's organization, or the server log."""
        return self.target.get("organization", SERVER_LOG)

    def to_json(self, time: str) -> bytes:
        """The stored form; ``time`` is ``time_ms`` as RFC 3339 (the caller's formatter)."""
        body: dict[str, Any] = {
            "time": time,
            "time_ms": self.time_ms,
            "request_id": self.request_id,
            "identity": dict(self.identity),
            "action": self.action,
            "target": dict(self.target),
            "result": self.result,
            "status": self.status,
        }
        if self.digest:
            body["digest"] = self.digest
        if self.record:
            body["record"] = self.record
        return orjson.dumps(body)


def audit_root(prefix: str) -> str:
    """The key prefix of everything the audit trail stores."""
    return f"{prefix}/audit/v1/" if prefix else "audit/v1/"


def _log_name(organization: str) -> str:
    return f"org={organization}" if organization else "server"


def log_root(prefix: str, organization: str) -> str:
    """The key prefix of one organization's log (or the server log's)."""
    return f"{audit_root(prefix)}{_log_name(organization)}/"


def log_entry_key(prefix: str, organization: str) -> str:
    """The key of the entry saying a log exists: the sealer finds the logs by listing these."""
    return f"{audit_root(prefix)}logs/{_log_name(organization)}"


def organization_of_entry(key: str) -> str:
    """The organization (or :data:`SERVER_LOG`) of a log entry's key."""
    name = key.rsplit("/", 1)[1]
    return name.removeprefix("org=") if name.startswith("org=") else SERVER_LOG


def events_root(root: str) -> str:
    """The key prefix of a log's events."""
    return f"{root}events/"


def event_name(time_ms: int) -> str:
    """A new event's file name: newest first, unique by its random part."""
    return f"{MAX_MS - time_ms:013d}-{secrets.token_hex(8)}.json"


def event_key(root: str, name: str) -> str:
    """The key of the event named ``name`` in the log at ``root``."""
    return f"{events_root(root)}{MAX_HOUR - time_of(name) // HOUR_MS:07d}/{name}"


def is_event_name(name: str) -> bool:
    """Whether ``name`` is an event's file name (a cursor names one)."""
    return _NAME.match(name) is not None


def time_of(name: str) -> int:
    """The event time (ms) an event's file name holds."""
    return MAX_MS - int(name[:13])


def first_key_before(root: str, time_ms: int) -> str:
    """A ``start_after`` that lists the log's events older than ``time_ms``, newest first."""
    inverted = MAX_MS - time_ms
    return f"{events_root(root)}{MAX_HOUR - time_ms // HOUR_MS:07d}/{inverted:013d}-~"
