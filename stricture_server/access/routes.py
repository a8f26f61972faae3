"""What each route does, for the policy: its action and the target its path names.

``App.handle`` looks a route up here, authenticates the caller and checks the grant before the
endpoint runs: the one place where access is decided. A route missing from the table needs
``admin`` on everything, so a new route is closed until it is described.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..runstore.records import sanitized
from .grants import ADMIN, EVERYTHING, READ, WRITE, Target

Names = Mapping[str, Any]


def _org(args: Names) -> Target:
    return Target(sanitized({"organization": args["organization"]})["organization"])


def _project(args: Names) -> Target:
    names = sanitized({"organization": args["organization"], "project": args["project"]})
    return Target(names["organization"], names["project"])


def _service(args: Names) -> Target:
    names = sanitized({k: args[k] for k in ("organization", "project", "service")})
    return Target(names["organization"], names["project"], names["service"])


@dataclass(frozen=True, slots=True)
class RouteAccess:
    """A route's access: ``action`` on ``target(path arguments)``."""

    action: str | None
    """``None``: open to everyone, no credential read."""
    target: Callable[[Names], Target] | None = None
    """``None``: any authenticated caller."""
    listing: bool = False
    """The caller needs the action on some part of the target; the endpoint lists only the
    parts it may see."""


def _everything(args: Names) -> Target:
    return EVERYTHING


OPEN = RouteAccess(None)
CALLER = RouteAccess(READ)
"""Any authenticated caller, whatever its grants."""
INGEST = RouteAccess(WRITE, _everything, listing=True)
"""Refused before the body is read to a caller who may write nothing; the exact target is
the envelope's names, checked by the endpoint once the body is read."""

ROUTES: dict[tuple[str, str], RouteAccess] = {
    ("/healthz", "GET"): OPEN,
    ("/readyz", "GET"): OPEN,
    ("/v1/openapi.json", "GET"): OPEN,
    # Behind its own setting and tokens (STRICTURE_SERVER_METRICS).
    ("/metrics", "GET"): OPEN,
    ("/v1/whoami", "GET"): CALLER,
    ("/v1/artifacts", "POST"): INGEST,
    ("/v1/artifacts", "GET"): RouteAccess(READ, _everything, listing=True),
    ("/v1/artifacts/<organization>", "GET"): RouteAccess(READ, _org, listing=True),
    ("/v1/artifacts/<organization>/<project>", "GET"): RouteAccess(READ, _project, listing=True),
    ("/v1/artifacts/<organization>/<project>/<service>", "GET"): RouteAccess(READ, _service),
    ("/v1/artifacts/<organization>/<project>/<service>/<run_id>", "GET"): RouteAccess(
        READ, _service
    ),
    ("/v1/changes/<organization>/<project>/<service>", "GET"): RouteAccess(READ, _service),
    ("/v1/changes/<organization>", "GET"): RouteAccess(READ, _org, listing=True),
    ("/v1/blast-radius/<organization>/<project>/<service>/<run_id>", "GET"): RouteAccess(
        READ, _service
    ),
    ("/v1/graph/<organization>", "GET"): RouteAccess(READ, _org),
    ("/v1/escalation/<organization>/<system>", "GET"): RouteAccess(READ, _org),
    ("/v1/registry/<organization>", "GET"): RouteAccess(READ, _org),
    ("/v1/registry/<organization>", "POST"): RouteAccess(ADMIN, _org),
    ("/v1/replication", "GET"): RouteAccess(ADMIN, _everything),
    ("/v1/alerts/<organization>", "GET"): RouteAccess(ADMIN, _org),
    ("/v1/alerts/<organization>/<alert_id>/redeliver", "POST"): RouteAccess(ADMIN, _org),
    ("/v1/audit", "GET"): RouteAccess(ADMIN, _everything),
    ("/v1/audit/<organization>", "GET"): RouteAccess(ADMIN, _org),
    ("/v1/audit/<organization>/verify", "GET"): RouteAccess(ADMIN, _org),
}

UNDESCRIBED = RouteAccess(ADMIN, _everything)


def route_access(rule: str, method: str) -> RouteAccess:
    """The access of ``method`` on ``rule`` (HEAD is GET)."""
    return ROUTES.get((rule, "GET" if method == "HEAD" else method), UNDESCRIBED)
