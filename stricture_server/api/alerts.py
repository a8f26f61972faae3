"""The alert endpoints: an organization's alerts with their attempts, and redelivery."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from werkzeug import Request, Response

from ..blast.answers import organization_of
from ..http_errors import json_response
from ..storage import Storage
from .requests import Fields, answer_query, no_query

if TYPE_CHECKING:
    from ..alerts.answers import AlertAnswers


class AlertEndpoints:
    """Reads of the alert outbox, and the one write an operator makes to it."""

    def __init__(self, storage: Storage, prefix: str, clock: Callable[[], datetime]) -> None:
        self.storage = storage
        self.prefix = prefix
        self.clock = clock

    @cached_property
    def answers(self) -> AlertAnswers:
        """The alerts API, imported on first use: a function's cold start for ingest skips it."""
        from ..alerts.answers import AlertAnswers
        from ..alerts.outbox import AlertOutbox

        outbox = AlertOutbox(self.storage, self.prefix)
        return AlertAnswers(outbox, lambda: int(self.clock().timestamp() * 1000))

    def alerts_of(self, request: Request, fields: Fields, organization: str) -> Response:
        """``GET /v1/alerts/{org}``: the org's alerts, newest first, with their attempts."""
        org = organization_of(organization)
        return answer_query(request, lambda a: self.answers.listing(org, a))

    def redeliver(
        self, request: Request, fields: Fields, organization: str, alert_id: str
    ) -> Response:
        """``POST /v1/alerts/{org}/{alert_id}/redeliver``: requeue a delivered or dead alert."""
        no_query(request)
        org = organization_of(organization)
        return json_response(202, self.answers.redeliver(org, alert_id))
