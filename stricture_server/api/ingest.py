"""The ingest endpoint, ``POST /v1/artifacts``: validate the envelope, store the run once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from werkzeug import Request, Response

from ..access.enforce import require
from ..access.grants import WRITE, Target
from ..blast.derive import RunLineage, derive
from ..errors import InvalidInput
from ..http_errors import json_response
from ..ingest.body import check_media_type, parse_json, read_body
from ..ingest.store_run import RunWriter
from ..ingest.validation import EnvelopeValidator
from ..runstore.records import normalize
from ..runstore.runs import Accepted
from .requests import REQUEST_ID, Fields, caller

if TYPE_CHECKING:
    from ..alerts.raising import RunAlerts
    from ..metrics.recorder import Metrics

INGEST_ROUTE = "/v1/artifacts"

Audit = Callable[[Request, str, str, int, Fields, Mapping[str, Any]], None]
"""Records an answered request in the audit trail: request, request id, route, status, the
log fields, the route's arguments (``App``'s own audit step)."""


class IngestEndpoint:
    """The one write of a run, built with the validator, the writer and the ingest's steps."""

    def __init__(
        self,
        validator: EnvelopeValidator,
        writer: RunWriter,
        lineage: RunLineage,
        alerts: RunAlerts | None,
        audit: Audit,
        clock: Callable[[], datetime],
        metrics: Metrics | None,
        max_body_bytes: int,
        max_json_values: int,
    ) -> None:
        self.validator = validator
        self.writer = writer
        self.lineage = lineage
        self.alerts = alerts
        self.audit = audit
        self.clock = clock
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.max_json_values = max_json_values

    def ingest(self, request: Request, fields: Fields) -> Response:
        """``POST /v1/artifacts``: validate the envelope and store the run once."""
        check_media_type(request.mimetype)
        body = read_body(
            request.stream,
            content_length=request.content_length,
            encoding=request.headers.get("Content-Encoding", ""),
            limit=self.max_body_bytes,
        )
        if self.metrics is not None:
            self.metrics.ingest_bytes.inc(len(body))
        document = parse_json(body, max_values=self.max_json_values)
        del body
        found = self.validator.findings(document)
        if found.listed:
            raise InvalidInput(
                "the envelope does not match the schema",
                found.listed,
                omitted=found.omitted,
                omitted_is_lower_bound=not found.complete,
            )
        received = self.clock()
        record = normalize(document, received)
        # The artifact is serialised into the record now, and its graph derived for the
        # lineage step; the rest feeds the index below.
        run_graph = derive(document["artifact"], record.identity.run_id)
        del document["artifact"]
        identity = record.identity
        # Checked on the canonical names, before anything is stored.
        target = Target(identity.organization, identity.project, identity.service)
        require(caller(request), WRITE, target)
        fields.update(
            organization=identity.organization,
            project=identity.project,
            service=identity.service,
            run_id=identity.run_id,
        )

        def claimed(accepted: Accepted) -> list[Callable[[], None]]:
            fields.update(replay=accepted.replay, digest=record.digest, record_key=accepted.key)
            # The event of the 202 this ingest answers once its writes succeed, sent with them
            # rather than after them: a round trip less. If another write fails, the answer is
            # 503 and the event stands; the retry, a replay, completes the run (docs/audit.md).
            request_id = request.environ.get(REQUEST_ID, "")
            return [lambda: self.audit(request, request_id, INGEST_ROUTE, 202, fields, {})]

        stored = self.writer.store(record, received, document, run_graph, claimed)
        accepted, facts = stored.accepted, stored.facts
        if self.metrics is not None:
            self.metrics.ingests.labels("replay" if accepted.replay else "stored").inc()
        # Last, before the answer: an acknowledged run's alerts are in the outbox.
        if self.alerts is not None:
            self.alerts.after_ingest(
                identity,
                accepted.received_at,
                facts.summary.commit_sha,
                document.get("diff"),
                lambda: stored.blast_radius or orjson.loads(self.lineage.blast_radius(identity)),
            )
        return json_response(
            202,
            {"accepted": True, "run_id": identity.run_id, "location": identity.location},
            {"Location": identity.location},
        )
