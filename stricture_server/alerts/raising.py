"""The alert step of an ingest: match the run's changes, store its alerts in the outbox.

Run before the ingest is acknowledged, so an acknowledged run's alerts are stored: a crash
after the answer never loses one. A replay of the run stores nothing new (the alert ids are
the run's), and completes what a first attempt that failed midway did not store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..errors import StorageUnavailable
from ..runstore.records import RunIdentity
from .match import RunBlast, changes_of, match_run, worth_a_look
from .outbox import AlertOutbox
from .payload import alert_id, build_payload
from .rules import AlertsConfig

log = logging.getLogger(__name__)


class RunAlerts:
    """Raises the alerts of ingested runs, as the configuration file's rules say."""

    def __init__(self, config: AlertsConfig, outbox: AlertOutbox) -> None:
        self.config = config
        self.outbox = outbox

    def after_ingest(
        self,
        identity: RunIdentity,
        received_at: str,
        commit_sha: str | None,
        diff: object,
        blast: Callable[[], Mapping[str, Any]],
    ) -> int:
        """Store the run's alerts; how many were new. ``blast`` gives its blast radius.

        A store failure raises: the ingest answers 503 and the client's retry, a replay,
        stores them. Any other failure is logged and the run acknowledged: a retry would
        meet it again, and the run is stored.
        """
        try:
            alerts = self.config.of(identity.organization)
            if alerts is None:
                return 0
            changes = changes_of(diff)
            if not worth_a_look(alerts, identity.project, identity.service, changes):
                return 0
            radius = RunBlast(blast())
            received_ms = int(datetime.fromisoformat(received_at).timestamp() * 1000)
            url = f"{self.config.public_url}{identity.location}" if self.config.public_url else None
            created = 0
            for found in match_run(alerts, changes, radius):
                destination = alerts.destinations[found.destination]
                ident = alert_id(received_ms, identity, found.destination)
                payload = build_payload(
                    id=ident,
                    created_at=received_at,
                    identity=identity,
                    commit_sha=commit_sha,
                    url=url,
                    match=found,
                    changes=changes,
                    blast=radius,
                )
                document = {
                    "id": ident,
                    "organization": identity.organization,
                    "destination": found.destination,
                    "kind": destination.kind,
                    "created_ms": received_ms,
                    "payload": payload,
                }
                if self.outbox.add(identity.organization, document):
                    created += 1
                    log.info(
                        "alert raised",
                        extra={"fields": {"alert_id": ident, "destination": found.destination}},
                    )
            return created
        except StorageUnavailable:
            raise
        except Exception:
            log.exception(
                "alert step failed; the run is stored, its alerts are not",
                extra={"fields": {"location": identity.location}},
            )
            return 0
