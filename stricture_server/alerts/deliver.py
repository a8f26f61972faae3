"""The deliverer: sends pending alerts, at least once, one process at a time per alert.

Each pass looks at the alerts of the delivery window (created, or requeued, within
:attr:`Policy.window_ms`). An attempt is leased first: creating the alert's next history event
as a ``lease`` is the one step only one process can take; the lease outlives the send timeout,
and a lease whose holder died (``kill -9``) expires, so another process takes over. Every
attempt is then recorded with its outcome, signed afresh with a new timestamp but the same
``webhook-id``. Retries back off with jitter and honour ``Retry-After``; an alert still not
delivered ``total`` seconds after its round began is dead.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ..errors import ObjectNotFound
from .outbox import AlertOutbox, History
from .payload import slack_message
from .rules import AlertsConfig, Destination
from .signing import signed_headers
from .transport import Answer, SendFailed, Transport

log = logging.getLogger(__name__)

DEFAULT_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
"""Seconds before each retry: near the Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h,
5 h, 10 h, 10 h); the default total of a day stops it after the sixth retry."""
JITTER = 0.2
"""Each delay is stretched or shrunk by up to this fraction, so retries do not arrive in step."""
WINDOW_TOTALS = 7
"""The deliverer looks at alerts up to this many delivery totals old."""
SENDERS = 8
"""Alerts one pass sends at once: a receiver that hangs holds one sender, not the pass."""


@dataclass(frozen=True, slots=True)
class Policy:
    """When to retry and when to give up."""

    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    total_seconds: float = 86400.0
    send_timeout_seconds: float = 15.0

    @property
    def lease_ms(self) -> int:
        """How long a lease holds: well past the longest send."""
        return int((2 * self.send_timeout_seconds + 5) * 1000)

    @property
    def window_ms(self) -> int:
        """How far back the deliverer looks for pending alerts."""
        return int(WINDOW_TOTALS * self.total_seconds * 1000)

    def delay(self, tries: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds before the next attempt after ``tries`` failed ones; ``None``: no more."""
        if tries > len(self.schedule):
            return None
        base = self.schedule[tries - 1] * (1 + rng.uniform(-JITTER, JITTER))
        return max(base, min(retry_after or 0.0, self.total_seconds))


@dataclass
class Drained:
    """What one pass did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    pending: int = 0
    """Alerts still pending after the pass."""
    overdue: int = 0
    """Pending alerts whose attempt is late by more than a lease."""

    def as_json(self) -> dict[str, int]:
        """The counts, for a log line or a command's output."""
        return {
            "delivered": self.delivered,
            "retried": self.retried,
            "dead": self.dead,
            "pending": self.pending,
            "overdue": self.overdue,
        }


def _outcome(answer: Answer) -> str:
    """``delivered``, ``retry`` or ``dead`` for an HTTP answer."""
    if 200 <= answer.status < 300:
        return "delivered"
    if answer.status in (408, 429) or answer.status >= 500:
        return "retry"
    return "dead"  # a redirect (not followed) or a 4xx: the receiver will not take it


@dataclass
class Deliverer:
    """Drains the alert outbox of every configured organization."""

    config: AlertsConfig
    outbox: AlertOutbox
    transport: Transport
    policy: Policy = field(default_factory=Policy)
    poll_seconds: float = 5.0
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    _final: set[tuple[str, str]] = field(default_factory=set)
    _behind: bool = False
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _count: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        # The thread does not exist in a child: it starts its own.
        self._thread = None
        self._stop = threading.Event()
        self._count = threading.Lock()
        self.holder = f"{socket.gethostname()}:{os.getpid()}"

    def run_once(self) -> Drained:
        """One pass over every organization's recent alerts, :data:`SENDERS` at a time."""
        drained = Drained()
        now = self._now_ms()
        since = now - self.policy.window_ms
        todo: list[tuple[str, str]] = []
        for org in self.config.organizations:
            requeued = set(self.outbox.requeued_since(org, since))
            for alert_id in list(self._recent(org, since)) + sorted(requeued):
                if (org, alert_id) not in self._final or alert_id in requeued:
                    todo.append((org, alert_id))
        if len(todo) < 2:
            for org, alert_id in todo:
                self._one(org, alert_id, drained)
        else:
            with ThreadPoolExecutor(min(SENDERS, len(todo))) as pool:
                list(pool.map(lambda item: self._one(item[0], item[1], drained), todo))
        self._report(drained)
        return drained

    def _recent(self, org: str, since: int) -> Any:
        from .outbox import created_ms

        for alert_id in self.outbox.ids(org):
            if created_ms(alert_id) < since:
                return
            yield alert_id

    def _one(self, org: str, alert_id: str, drained: Drained) -> None:
        try:
            history = self.outbox.history(org, alert_id)
        except ObjectNotFound:
            return
        if history.state != "pending":
            self._final.add((org, alert_id))
            return
        outcome = self.attempt(org, history)
        late = self._now_ms() - history.due_ms
        with self._count:
            if outcome == "delivered":
                drained.delivered += 1
            elif outcome == "dead":
                drained.dead += 1
            else:
                drained.retried += outcome == "retry"
                drained.pending += 1
                drained.overdue += outcome is None and late > self.policy.lease_ms

    def attempt(self, org: str, history: History) -> str | None:
        """Make the alert's next attempt if it is due and free; its outcome, else ``None``."""
        now = self._now_ms()
        if history.leased_until() > now or history.due_ms > now:
            return None
        alerts = self.config.of(org)
        destination = alerts.destinations.get(history.alert["destination"]) if alerts else None
        lease = {"kind": "lease", "holder": self.holder, "at_ms": now}
        lease["until_ms"] = now + self.policy.lease_ms
        seq = history.last_seq + 1
        if not self.outbox.try_event(org, history.id, seq, lease):
            return None  # another process leased this attempt first
        tries = history.tries + 1
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        retry_after: float | None = None
        if destination is None:
            outcome, error = "dead", "the destination is no longer configured"
        else:
            try:
                answer = self._send(destination, history)
            except SendFailed as exc:
                outcome, error = "retry", exc.reason
            else:
                status, retry_after = answer.status, answer.retry_after
                outcome = _outcome(answer)
                if status == 410:
                    log.warning(
                        "alert destination answered 410 Gone; it stays configured",
                        extra={"fields": {"organization": org, "destination": destination.name}},
                    )
        duration_ms = round((time.monotonic() - started) * 1000, 3)
        next_ms = None
        if outcome == "retry":
            delay = self.policy.delay(tries, retry_after, self.rng)
            next_ms = None if delay is None else self._now_ms() + int(delay * 1000)
            ends = history.round_started_ms + int(self.policy.total_seconds * 1000)
            if next_ms is None or next_ms > ends:
                outcome, next_ms = "dead", None
        event = {
            "kind": "attempt",
            "n": tries,
            "at": datetime.fromtimestamp(now / 1000, UTC).isoformat(timespec="milliseconds"),
            "at_ms": now,
            "status": status,
            "duration_ms": duration_ms,
            "error": error,
            "outcome": outcome,
            "next_ms": next_ms,
            "holder": self.holder,
        }
        self.outbox.append(org, history.id, seq, event)
        log.log(
            logging.WARNING if outcome == "dead" else logging.INFO,
            f"alert {outcome}",
            extra={"fields": {"alert_id": history.id, "status": status, "error": error}},
        )
        return outcome

    def _send(self, destination: Destination, history: History) -> Answer:
        payload = history.alert["payload"]
        headers = {"Content-Type": "application/json", "User-Agent": "stricture-server"}
        if destination.kind == "slack":
            return self.transport.post(
                destination.url.value, orjson.dumps(slack_message(payload)), headers
            )
        body = orjson.dumps(payload)
        now = datetime.fromtimestamp(self.clock(), UTC)
        headers.update(signed_headers(history.id, body, destination.secrets, now))
        return self.transport.post(destination.url.value, body, headers)

    def _report(self, drained: Drained) -> None:
        """Say once when delivery falls behind, and once when it has caught up."""
        if drained.overdue and not self._behind:
            self._behind = True
            log.warning("alert delivery is behind", extra={"fields": drained.as_json()})
        elif not drained.overdue and self._behind:
            self._behind = False
            log.warning("alert delivery has caught up", extra={"fields": drained.as_json()})

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def start(self) -> None:
        """Deliver in a background thread of this process until :meth:`stop`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._loop, name="alert-deliverer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread after its current pass."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("alert delivery pass failed; trying again")
            self._stop.wait(self.poll_seconds)
