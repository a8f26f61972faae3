"""Which requests the audit trail records, described per route, and the event of each.

One table, read once per request by :meth:`App.handle` after the response is decided (by the
ingest once its claim has answered, to send its 202 event with the run's objects): a route
that writes has an action and is audited when it succeeds or conflicts; any route that checks
credentials is audited when it refuses them (401, 403). Nothing else is audited: a body refused
for its shape changes nothing and is in the request log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..runstore.identity import MAX_LENGTH, sanitize
from .events import Event

WRITES: Mapping[tuple[str, str], str] = {
    ("/v1/artifacts", "POST"): "ingest",
    ("/v1/registry/<organization>", "POST"): "registry.upload",
    ("/v1/alerts/<organization>/<alert_id>/redeliver", "POST"): "alert.redeliver",
}
"""The action of each audited (route, method): every success and conflict is an event."""

OPEN = frozenset({"/healthz", "/readyz", "/metrics", "/v1/openapi.json", "unmatched"})
"""Routes that take no API credentials: never audited."""

DENIED = {401: "unauthenticated", 403: "forbidden"}
TARGET_NAMES = ("organization", "project", "service", "run_id", "alert_id")


def action_of(route: str, method: str) -> str:
    """The action a request on ``route`` asks for: a write's name, or ``read``."""
    return WRITES.get((route, method), "read")


def result_of(action: str, status: int, fields: Mapping[str, Any]) -> str | None:
    """The event's result, or None when the request is not audited."""
    if status in DENIED:
        return DENIED[status]
    if action == "read":
        return None
    if action == "ingest" and status == 202:
        return "replayed" if fields.get("replay") else "accepted"
    if action == "alert.redeliver" and status == 202:
        return "requeued"
    if 200 <= status < 300:
        return "stored"
    if status == 409:
        return "conflict"
    return None


def describe(
    route: str,
    method: str,
    status: int,
    *,
    time_ms: int,
    request_id: str,
    identity: Mapping[str, str],
    fields: Mapping[str, Any],
    names: Mapping[str, Any],
) -> Event | None:
    """The event of one answered request, or None when it is not audited.

    ``fields`` are what the endpoint found (the sanitised names of an ingest, its digest);
    ``names`` the route's path arguments, sanitised by the event's writer.
    """
    if route in OPEN:
        return None
    action = action_of(route, "POST" if method == "POST" else "GET")
    result = result_of(action, status, fields)
    if result is None:
        return None
    if status == 401:
        # Unauthenticated: the names in the path are the caller's word alone, so the event goes
        # to the server log, not to an organization's (nor creates one).
        target = {}
    else:
        target = _target(fields) if "organization" in fields else _target(names, clean=True)
    stored = action == "ingest" and status == 202
    return Event(
        time_ms=time_ms,
        request_id=request_id,
        identity=identity,
        action=action,
        result=result,
        status=status,
        target=target,
        digest=str(fields.get("digest", "")) if stored else "",
        record=str(fields.get("record_key", "")) if stored else "",
    )


def _target(source: Mapping[str, Any], *, clean: bool = False) -> dict[str, str]:
    """The named target; path arguments sanitised as the endpoint would, unusable ones left out."""
    target: dict[str, str] = {}
    for name in TARGET_NAMES:
        value = source.get(name)
        if not isinstance(value, str):
            continue
        try:
            value = sanitize(value) if clean else value
        except ValueError:
            break  # a name the endpoint refuses: the names after it would mean nothing
        if not value or len(value) > MAX_LENGTH:
            break
        target[name] = value
    return target
