"""The alerts API: ``GET /v1/alerts/{org}`` and ``POST /v1/alerts/{org}/{id}/redeliver``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..errors import AlertNotFound, AlertPending, InvalidInput, ObjectNotFound, Problem
from ..reads.cursor import Cursor, decode
from ..reads.query_params import DEFAULT_LIMIT, MAX_LIMIT, Args, single_values
from .outbox import STATES, AlertOutbox, History

ALERT_ID = re.compile(r"[0-9]{13}-[0-9a-f]{20}")
_LIMIT = re.compile(r"[0-9]{1,6}")
_DESTINATION = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
CURSOR_KIND = "a"
PARAMETERS = ("limit", "cursor", "state", "destination")
_ATTEMPT = ("n", "at", "status", "duration_ms", "error", "outcome")


def alert_view(history: History) -> dict[str, Any]:
    """One alert as the API shows it: its run, state and attempts."""
    alert, payload = history.alert, history.alert["payload"]
    return {
        "id": history.id,
        "destination": alert["destination"],
        "kind": alert["kind"],
        "state": history.state,
        "created_at": payload["created_at"],
        "location": payload["location"],
        "rules": payload["rules"],
        "changes": payload["totals"]["changes"],
        "attempts": [{k: a.get(k) for k in _ATTEMPT} for a in history.attempts],
    }


class AlertAnswers:
    """Reads and requeues an organization's alerts."""

    def __init__(self, outbox: AlertOutbox, now_ms: Callable[[], int]) -> None:
        self.outbox = outbox
        self.now_ms = now_ms

    def listing(self, organization: str, args: Args) -> dict[str, Any]:
        """A page of alerts, newest first, filtered by state and destination."""
        values, problems = single_values(args, PARAMETERS)
        limit = DEFAULT_LIMIT
        if "limit" in values:
            text = values["limit"]
            if _LIMIT.fullmatch(text) and 1 <= int(text) <= MAX_LIMIT:
                limit = int(text)
            else:
                problems.append(Problem("?limit", f"{text!r} is not a whole number 1 to 1000"))
        state = values.get("state")
        if state is not None and state not in STATES:
            problems.append(Problem("?state", f"expected one of {', '.join(STATES)}"))
        destination = values.get("destination")
        if destination is not None and not _DESTINATION.fullmatch(destination):
            problems.append(Problem("?destination", "not a destination name"))
        if problems:
            raise InvalidInput("invalid query parameters", problems)
        after = ""
        if "cursor" in values:
            valid = lambda name: ALERT_ID.fullmatch(name) is not None  # noqa: E731
            after = decode(values["cursor"], CURSOR_KIND, valid).name
        found: list[dict[str, Any]] = []
        last = ""
        more = False
        for alert_id in self.outbox.ids(organization, after):
            if len(found) == limit:
                more = True
                break
            try:
                history = self.outbox.history(organization, alert_id)
            except ObjectNotFound:
                continue
            last = alert_id
            if destination is not None and history.alert["destination"] != destination:
                continue
            if state is not None and history.state != state:
                continue
            found.append(alert_view(history))
        next_cursor = Cursor(CURSOR_KIND, last).encode() if more else None
        return {"organization": organization, "alerts": found, "next_cursor": next_cursor}

    def redeliver(self, organization: str, alert_id: str) -> dict[str, Any]:
        """Requeue a delivered or dead alert: a new round of attempts starts now."""
        if not ALERT_ID.fullmatch(alert_id):
            raise AlertNotFound("no alert has this id")
        try:
            history = self.outbox.history(organization, alert_id)
        except ObjectNotFound:
            raise AlertNotFound("no alert has this id") from None
        if history.state == "pending":
            raise AlertPending(
                "the alert is still pending delivery; only a delivered or dead alert can be "
                "redelivered"
            )
        now = self.now_ms()
        # The marker first: without the event after it, the alert stays as it was, and the
        # client's retry requeues it.
        self.outbox.mark_requeued(organization, alert_id, now)
        self.outbox.append(
            organization, alert_id, history.last_seq, {"kind": "requeue", "at_ms": now}
        )
        return {"id": alert_id, "state": "pending", "requeued_at_ms": now}
