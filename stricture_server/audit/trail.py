"""Writing audit events, and listing one log newest first with filters and a cursor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import InvalidInput, ObjectExists, ObjectNotFound, Problem
from ..runstore.names import REMEMBERED
from ..runstore.runs import format_time
from ..storage import Storage
from .events import (
    Event,
    event_key,
    event_name,
    events_root,
    first_key_before,
    is_event_name,
    log_entry_key,
    log_root,
    time_of,
)

if TYPE_CHECKING:
    from ..reads.query_params import Args

CURSOR_KIND = "a"
SCAN_LIMIT = 5000
"""Most events one page reads while filtering: a page may end short, with a cursor."""
FILTERS = ("action", "identity", "result")


def rfc3339(time_ms: int) -> str:
    """A millisecond time as the server writes times (UTC, milliseconds, ``Z``)."""
    return format_time(datetime.fromtimestamp(time_ms / 1000, UTC))


@dataclass(frozen=True, slots=True)
class Filters:
    """What a listing keeps: each set given, a value among it."""

    actions: frozenset[str] | None = None
    identities: frozenset[str] | None = None
    results: frozenset[str] | None = None

    def keep(self, event: dict[str, Any]) -> bool:
        """Whether ``event`` passes every filter given (identity: any of its values)."""
        identity = event.get("identity")
        values = set(identity.values()) if isinstance(identity, dict) else set()
        return (
            (self.actions is None or event.get("action") in self.actions)
            and (self.results is None or event.get("result") in self.results)
            and (self.identities is None or not values.isdisjoint(self.identities))
        )


class AuditTrail:
    """The audit logs on one store: one per organization, and the server log."""

    def __init__(self, storage: Storage, prefix: str) -> None:
        self.storage = storage
        self.prefix = prefix
        self._logs: set[str] = set()
        """The logs this process knows to have their entry."""

    def write(self, event: Event) -> str:
        """Store ``event`` as a new object (never overwriting); its key."""
        if event.organization not in self._logs:
            with suppress(ObjectExists):
                self.storage.create(log_entry_key(self.prefix, event.organization), b"{}")
            if len(self._logs) >= REMEMBERED:
                self._logs.clear()
            self._logs.add(event.organization)
        name = event_name(event.time_ms)
        key = event_key(log_root(self.prefix, event.organization), name)
        self.storage.create(key, event.to_json(rfc3339(event.time_ms)))
        return key

    def keys(self, organization: str, before_ms: int | None = None) -> Iterator[str]:
        """The keys of a log's events, newest first, older than ``before_ms`` if given."""
        root = log_root(self.prefix, organization)
        start = first_key_before(root, before_ms) if before_ms is not None else ""
        return self.storage.list(events_root(root), start)

    def page(self, organization: str, args: Args) -> dict[str, Any]:
        """``GET /v1/audit/{org}``: one page of events, newest first."""
        # The read API's parsing, loaded on the first read rather than at every cold start.
        from ..reads.cursor import Cursor, decode
        from ..reads.query_params import parse

        base = {k: v for k, v in args.items() if k not in FILTERS}
        query = parse(base, ("limit", "cursor", "from", "to"))
        filters = _filters(args)
        root = log_root(self.prefix, organization)
        if query.cursor is not None:
            after = decode(query.cursor, CURSOR_KIND, is_event_name).name
            start = event_key(root, after)
        elif query.end_ms is not None:
            start = first_key_before(root, query.end_ms + 1)
        else:
            start = ""
        events: list[dict[str, Any]] = []
        last = ""
        scanned = 0
        more = False
        for key in self.storage.list(events_root(root), start):
            name = key.rsplit("/", 1)[1]
            if not is_event_name(name):
                continue
            if query.start_ms is not None and time_of(name) < query.start_ms:
                break
            if len(events) == query.limit or scanned == SCAN_LIMIT:
                more = True
                break
            scanned += 1
            last = name
            event = _read(self.storage, key)
            if event is not None and filters.keep(event):
                events.append(event)
        answer: dict[str, Any] = {"organization": organization or None, "events": events}
        answer["next_cursor"] = Cursor(CURSOR_KIND, last).encode() if more else None
        return answer


def _read(storage: Storage, key: str) -> dict[str, Any] | None:
    """An event as stored; None for one that is not a JSON object (verify names it)."""
    try:
        found = orjson.loads(storage.read(key))
    except (orjson.JSONDecodeError, ObjectNotFound):
        return None
    return found if isinstance(found, dict) else None


def _filters(args: Args) -> Filters:
    from ..reads.query_params import single_values

    values, problems = single_values({k: v for k, v in args.items() if k in FILTERS}, FILTERS)
    if problems:
        raise InvalidInput("invalid query parameters", problems)
    sets = {
        name: frozenset(w.strip() for w in values[name].split(",") if w.strip())
        for name in FILTERS
        if name in values
    }
    empty = [Problem(f"?{n}", "empty") for n, words in sets.items() if not words]
    if empty:
        raise InvalidInput("invalid query parameters", empty)
    return Filters(sets.get("action"), sets.get("identity"), sets.get("result"))
