"""The alert outbox: every alert and every step of its delivery, each a create-only object.

Under ``<prefix>/alerts/v1/org=<o>/``:

- ``a/<alert id>.json``: the alert (its destination and payload), created at ingest before
  the run is acknowledged. The id begins with the run's inverted receive time, so the newest
  alert is listed first. One directory for all: an ingest makes no directory of its own;
- ``h/<alert id>/e<seq>.json``: its history, numbered 1, 2, 3...: a ``lease`` (one process
  sends attempt *n*), an ``attempt`` (its outcome), a ``requeue`` (``POST .../redeliver``).
  Creating event *n* is the only way to take the next step, so two processes never both lease
  one attempt: whoever creates the number first has it;
- ``requeued/<inverted ms>-<alert id>.json``: a marker that lets the deliverer, which looks
  only at recent alerts, find an old alert sent again.

Nothing is rewritten: an alert's state is read from its history (:class:`History`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from ..errors import ObjectExists
from ..storage import Storage

State = Literal["pending", "delivered", "dead"]
STATES: tuple[State, ...] = ("pending", "delivered", "dead")
SEQ_DIGITS = 6
_LAST_MS = 10**13 - 1


def org_root(prefix: str, organization: str) -> str:
    """The key prefix of an organization's alert objects."""
    root = f"{prefix}/" if prefix else ""
    return f"{root}alerts/v1/org={organization}/"


def created_ms(alert_id: str) -> int:
    """The run receive time an alert id starts with."""
    return _LAST_MS - int(alert_id[:13])


@dataclass(frozen=True, slots=True)
class History:
    """An alert and its events, in order: what its state is and when it is due."""

    alert: dict[str, Any]
    events: tuple[dict[str, Any], ...]

    @property
    def id(self) -> str:
        """The alert id (also its ``webhook-id``)."""
        return str(self.alert["id"])

    @property
    def last_seq(self) -> int:
        """The number of the last event; 0 without any."""
        return len(self.events)

    def _round(self) -> tuple[dict[str, Any], ...]:
        """The events since the last requeue: the current round of delivery."""
        for n in range(len(self.events) - 1, -1, -1):
            if self.events[n]["kind"] == "requeue":
                return self.events[n + 1 :]
        return self.events

    @property
    def attempts(self) -> list[dict[str, Any]]:
        """Every attempt, across rounds."""
        return [e for e in self.events if e["kind"] == "attempt"]

    @property
    def state(self) -> State:
        """``delivered`` or ``dead`` once the current round's last attempt said so."""
        tried = [e for e in self._round() if e["kind"] == "attempt"]
        outcome = tried[-1]["outcome"] if tried else "retry"
        return "delivered" if outcome == "delivered" else "dead" if outcome == "dead" else "pending"

    @property
    def round_started_ms(self) -> int:
        """When the current round began: the alert's creation or its last requeue."""
        for event in reversed(self.events):
            if event["kind"] == "requeue":
                return int(event["at_ms"])
        return int(self.alert["created_ms"])

    @property
    def tries(self) -> int:
        """Attempts made in the current round."""
        return sum(1 for e in self._round() if e["kind"] == "attempt")

    @property
    def due_ms(self) -> int:
        """When the next attempt may start."""
        tried = [e for e in self._round() if e["kind"] == "attempt"]
        return int(tried[-1]["next_ms"]) if tried else self.round_started_ms

    def leased_until(self) -> int:
        """Until when the last event's lease holds the alert; 0 if it is not a lease."""
        last = self.events[-1] if self.events else None
        return int(last["until_ms"]) if last and last["kind"] == "lease" else 0


class AlertOutbox:
    """The alert objects of every organization in one store."""

    def __init__(self, storage: Storage, prefix: str) -> None:
        self.storage = storage
        self.prefix = prefix

    def _alert(self, organization: str, alert_id: str) -> str:
        return f"{org_root(self.prefix, organization)}a/{alert_id}.json"

    def _dir(self, organization: str, alert_id: str) -> str:
        return f"{org_root(self.prefix, organization)}h/{alert_id}/"

    def add(self, organization: str, alert: dict[str, Any]) -> bool:
        """Store a new alert; ``False`` if it is stored already (a replay of its run)."""
        key = self._alert(organization, alert["id"])
        try:
            self.storage.create(key, orjson.dumps(alert))
        except ObjectExists:
            return False
        return True

    def ids(self, organization: str, start_after: str = "") -> Iterator[str]:
        """Alert ids, newest first, after ``start_after``."""
        base = f"{org_root(self.prefix, organization)}a/"
        after = f"{base}{start_after}.json" if start_after else ""
        for key in self.storage.list(base, after):
            yield key[len(base) :].removesuffix(".json")

    def history(self, organization: str, alert_id: str) -> History:
        """The alert and its events; ``ObjectNotFound`` if there is no such alert."""
        alert = orjson.loads(self.storage.read(self._alert(organization, alert_id)))
        base = self._dir(organization, alert_id)
        events = [orjson.loads(self.storage.read(key)) for key in self.storage.list(base)]
        return History(alert, tuple(events))

    def try_event(self, organization: str, alert_id: str, seq: int, event: dict[str, Any]) -> bool:
        """Create event number ``seq``; ``False`` if another process created it first."""
        key = f"{self._dir(organization, alert_id)}e{seq:0{SEQ_DIGITS}d}.json"
        try:
            self.storage.create(key, orjson.dumps(event))
        except ObjectExists:
            return False
        return True

    def append(self, organization: str, alert_id: str, after: int, event: dict[str, Any]) -> int:
        """Create ``event`` at the first free number after ``after``; that number."""
        seq = after + 1
        while not self.try_event(organization, alert_id, seq, event):
            seq += 1
        return seq

    def mark_requeued(self, organization: str, alert_id: str, at_ms: int) -> None:
        """Leave the marker by which the deliverer finds an old alert requeued."""
        key = f"{org_root(self.prefix, organization)}requeued/{_LAST_MS - at_ms:013d}-{alert_id}"
        with suppress(ObjectExists):
            self.storage.create(key + ".json", b"{}")

    def requeued_since(self, organization: str, since_ms: int) -> Iterator[str]:
        """Ids of the alerts requeued at or after ``since_ms``, newest first."""
        base = f"{org_root(self.prefix, organization)}requeued/"
        for key in self.storage.list(base):
            name = key[len(base) :]
            if _LAST_MS - int(name[:13]) < since_ms:
                return
            yield name[14:].removesuffix(".json")
