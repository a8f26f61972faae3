"""The ``alerts`` section of the configuration file as typed rules and destinations.

The file is validated against its JSON Schema at start (``config/file.py``); what the schema
cannot say is checked here, also at start: a rule naming an unknown destination, a URL that is
not https (plain http only to loopback, with the test setting), a signing secret that is not
``whsec_`` and base64.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from ..config.values import ConfigError, Secret
from ..runstore.identity import sanitize

Kind = Literal["webhook", "slack"]

DEFAULT_SEVERITIES = frozenset({"high"})
DEFAULT_IMPACTS = frozenset({"downstream"})
LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one organization's alerts go: a signed webhook or a Slack incoming webhook."""

    name: str
    kind: Kind
    url: Secret
    """The URL; held as a secret because a Slack webhook URL is one."""
    secrets: tuple[Secret, ...] = ()
    """Signing secrets, current first (webhook only)."""


@dataclass(frozen=True, slots=True)
class FlowCriterion:
    """A change matches when it reaches a flow of level at most ``max_level`` or in ``ids``."""

    max_level: int | None = None
    ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Rule:
    """Which changes of a run raise an alert, and where it goes."""

    name: str
    destinations: tuple[str, ...]
    severities: frozenset[str] = DEFAULT_SEVERITIES
    change_types: frozenset[str] | None = None
    impacts: frozenset[str] = DEFAULT_IMPACTS
    min_impacted_services: int = 0
    flows: FlowCriterion | None = None
    projects: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    def selects_run(self, project: str, service: str) -> bool:
        """Whether the run's project and service fit this rule's patterns."""
        return _fits(project, self.projects) and _fits(service, self.services)

    def selects_change(self, change: Mapping[str, Any]) -> bool:
        """Whether a diff change's own fields (severity, type) fit: no blast radius needed."""
        if change.get("severity") not in self.severities:
            return False
        return self.change_types is None or change.get("change_type") in self.change_types


@dataclass(frozen=True, slots=True)
class OrgAlerts:
    """One organization's destinations and rules."""

    destinations: Mapping[str, Destination]
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """Every organization's alerting; empty when the file has no ``alerts`` section."""

    organizations: Mapping[str, OrgAlerts]
    public_url: str = ""

    def of(self, organization: str) -> OrgAlerts | None:
        """The alerting of ``organization``, if it has any."""
        return self.organizations.get(organization)


def _fits(name: str, patterns: tuple[str, ...]) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def parse_alerts(section: Any, *, allow_loopback: bool) -> AlertsConfig:
    """The typed alerting of a validated ``alerts`` section; :class:`ConfigError` lists every
    problem the schema cannot see."""
    if not section:
        return AlertsConfig({})
    problems: list[str] = []
    orgs: dict[str, OrgAlerts] = {}
    for raw_name, org in (section.get("organizations") or {}).items():
        where = f"/alerts/organizations/{raw_name}"
        name = sanitize(raw_name)
        if name != raw_name:
            problems.append(f"{where}: write the organization as stored: {name!r}")
        destinations = {
            key: _destination(key, value, f"{where}/destinations/{key}", allow_loopback, problems)
            for key, value in org["destinations"].items()
        }
        rules = tuple(_rule(rule) for rule in org["rules"])
        for n, rule in enumerate(rules):
            for unknown in sorted(set(rule.destinations) - set(destinations)):
                problems.append(f"{where}/rules/{n}: no destination named {unknown!r}")
        orgs[name] = OrgAlerts(destinations, rules)
    if problems:
        raise ConfigError("alerts: " + "; ".join(problems))
    return AlertsConfig(orgs, str(section.get("public_url", "")).rstrip("/"))


def _destination(
    name: str, raw: Mapping[str, Any], where: str, allow_loopback: bool, problems: list[str]
) -> Destination:
    url = raw["url"] if isinstance(raw["url"], Secret) else Secret(raw["url"])
    problem = url_problem(url.value, allow_loopback=allow_loopback)
    if problem:
        problems.append(f"{where}/url: {problem}")
    secrets = tuple(raw.get("secrets", ()))
    for n, secret in enumerate(secrets):
        if not _is_signing_secret(secret.value):
            problems.append(f"{where}/secrets/{n}: not a signing secret (whsec_ and base64)")
    return Destination(name, raw["type"], url, secrets)


def url_problem(url: str, *, allow_loopback: bool) -> str:
    """What is wrong with a destination URL, or ``""``; never shows the URL (it may be secret)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        return "not a URL"
    if not host or parts.username or parts.password:
        return "needs a host and no user or password"
    if parts.scheme == "https":
        return ""
    if parts.scheme == "http" and allow_loopback and is_loopback_name(host):
        return ""
    return "must be https (plain http only to loopback, with STRICTURE_SERVER_ALERT_ALLOW_LOOPBACK)"


def is_loopback_name(host: str) -> bool:
    """Whether ``host`` names the loopback interface literally."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_signing_secret(value: str) -> bool:
    if not value.startswith("whsec_"):
        return False
    try:
        return len(base64.b64decode(value[6:], validate=True)) >= 16
    except (binascii.Error, ValueError):
        return False


def _rule(raw: Mapping[str, Any]) -> Rule:
    flows = raw.get("flows")
    return Rule(
        name=raw["name"],
        destinations=tuple(raw["destinations"]),
        severities=frozenset(raw.get("severity", DEFAULT_SEVERITIES)),
        change_types=frozenset(raw["change_types"]) if "change_types" in raw else None,
        impacts=frozenset(raw.get("impact", DEFAULT_IMPACTS)),
        min_impacted_services=raw.get("min_impacted_services", 0),
        flows=FlowCriterion(flows.get("max_level"), frozenset(flows.get("ids", ())))
        if flows
        else None,
        projects=tuple(raw.get("projects", ())),
        services=tuple(raw.get("services", ())),
    )
