"""What an alert says: the generic payload (``schemas/alert.schema.json``) and the Slack message.

The generic payload is built once, at ingest, and stored in the outbox: every attempt sends
the same bytes under the same ``webhook-id``. The Slack message is made from it at send time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from ..runstore.records import RunIdentity
from .match import Match, RunBlast

TYPE = "stricture.drift.alert"
SEVERITIES = ("high", "medium", "low", "info")
SLACK_CHANGES = 10
"""Changes a Slack message spells out; the rest are counted."""
SLACK_BLOCK_CHARS = 2900
"""Slack refuses a section text over 3000 characters."""


def alert_id(received_ms: int, identity: RunIdentity, destination: str) -> str:
    """The alert's id, stable across replays of the run: newest first when sorted.

    The run's first received time, inverted, then a digest of the run and destination.
    """
    digest = hashlib.sha256(f"{identity.location}\n{destination}".encode()).hexdigest()[:20]
    return f"{10**13 - 1 - received_ms:013d}-{digest}"


def build_payload(
    *,
    id: str,
    created_at: str,
    identity: RunIdentity,
    commit_sha: str | None,
    url: str | None,
    match: Match,
    changes: Sequence[Any],
    blast: RunBlast,
) -> dict[str, Any]:
    """The generic webhook payload of one alert."""
    listed = []
    systems: set[str] = set()
    services: set[tuple[str, str, str]] = set()
    counts = dict.fromkeys(SEVERITIES, 0)
    for index in match.indexes:
        change = changes[index]
        judged = blast.judged(index)
        system = judged.get("system")
        impacted: list[dict[str, Any]] = []
        if system:
            # Many changes name one system: its list is made once per run and shared.
            reach = blast.reach(system)
            impacted = reach.impacted
            systems |= reach.systems
            services |= reach.services
        severity = change.get("severity")
        if severity in counts:
            counts[severity] += 1
        listed.append(
            {
                "index": index,
                "severity": severity,
                "change_type": change.get("change_type"),
                "field_id": change.get("field_id"),
                "message": change.get("message"),
                "suggestion": change.get("suggestion"),
                "impact": judged.get("impact", "unknown"),
                "system": system,
                "impacted": impacted,
            }
        )
    return {
        "type": TYPE,
        "id": id,
        "created_at": created_at,
        "organization": identity.organization,
        "project": identity.project,
        "service": identity.service,
        "run_id": identity.run_id,
        "commit_sha": commit_sha,
        "location": identity.location,
        "url": url,
        "destination": match.destination,
        "rules": list(match.rules),
        "changes": listed,
        "totals": {
            "changes": len(listed),
            "by_severity": counts,
            "impacted_systems": len(systems),
            "impacted_services": len(services),
            "services": [
                {"organization": o, "project": p, "service": s} for o, p, s in sorted(services)
            ],
        },
    }


def slack_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message for the people who must act on ``payload``."""
    run = f"{payload['organization']}/{payload['project']}/{payload['service']}"
    link = payload.get("url") or payload["location"]
    commit = f" at `{payload['commit_sha'][:12]}`" if payload.get("commit_sha") else ""
    totals = payload["totals"]
    head = (
        f":rotating_light: *{totals['changes']} breaking change(s) in {run}* reach "
        f"{totals['impacted_services']} other service(s). Run <{link}|{payload['run_id']}>{commit}."
    )
    blocks = [_section(head)]
    for change in payload["changes"][:SLACK_CHANGES]:
        blocks.append(_section(_change_text(change)))
    more = len(payload["changes"]) - SLACK_CHANGES
    if more > 0:
        blocks.append(_section(f"… and {more} more change(s): see the run."))
    return {"text": head, "blocks": blocks}


def _change_text(change: Mapping[str, Any]) -> str:
    lines = [
        f"*{change['severity']}* `{change['change_type']}` on `{change['field_id']}`"
        f" ({change['impact']}): {change.get('message') or ''}"
    ]
    if change.get("suggestion"):
        lines.append(f"> {change['suggestion']}")
    for item in change["impacted"][:10]:
        names = ", ".join(loc["service"] for loc in item["services"] or ())
        who = item.get("owner") or "owner unknown"
        contacts = "; ".join(
            " ".join(x for x in (c.get("name"), c.get("channel")) if x)
            for c in item.get("contacts") or ()
        )
        lines.append(
            f"• `{item['system']}` ({names}): {who}" + (f": {contacts}" if contacts else "")
        )
    return "\n".join(lines)


def _section(text: str) -> dict[str, Any]:
    if len(text) > SLACK_BLOCK_CHARS:
        text = text[: SLACK_BLOCK_CHARS - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
