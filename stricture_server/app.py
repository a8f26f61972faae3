"""The application: one pure entry, ``App.handle(request) -> response``, for every runtime."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from werkzeug import Request, Response
from werkzeug.exceptions import NotFound
from werkzeug.routing import Map, Rule

from . import logs
from .access.enforce import require
from .access.principal import PRINCIPAL, principal_of
from .access.routes import route_access
from .alerts.setup import run_alerts
from .api.alerts import AlertEndpoints
from .api.audit import AuditEndpoints
from .api.ingest import INGEST_ROUTE, IngestEndpoint
from .api.lineage import LineageEndpoints
from .api.operations import OperationEndpoints
from .api.read_views import ReadViews
from .api.requests import REQUEST_ID, Fields
from .api.runs import RunEndpoints
from .audit.identity import identity_of
from .audit.routes import describe
from .audit.trail import AuditTrail
from .auth import Authenticator, NoAuth, TokenAuth, make_authenticator
from .blast.answers import GraphAnswers
from .blast.derive import RunLineage
from .blast.orgs import Orgs
from .blast.registry_store import RegistryStore
from .http_errors import error_response
from .ingest.store_run import RunWriter
from .ingest.validation import EnvelopeValidator
from .ingest.writes import CONCURRENT_DRIVERS, InFlight, Writes
from .readiness import Readiness, store_check
from .runstore.identity import new_run_id
from .runstore.index import Index
from .runstore.runs import RunStore
from .settings import Settings
from .storage import Replicating, Storage, open_storage
from .storage.local_first import LocalFirst, Partial, noting

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .audit.sealer import Sealer
    from .metrics.recorder import Metrics

log = logging.getLogger(logs.ACCESS)

METRICS_LISTENER = "stricture_server.metrics_listener"
"""WSGI environ key set by process mode on requests that came in on ``METRICS_ADDR``."""
ON_METRICS_LISTENER = ("/metrics", "/healthz", "/readyz")
"""The only paths served on ``METRICS_ADDR``: the API is not reachable there."""

UNMATCHED = "unmatched"
"""The route of a request no rule matched, as metrics label it (never the raw path)."""

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")

PARTIAL_HEADER = "X-Stricture-Partial"
"""Set, to :data:`STORE_UNAVAILABLE`, on an answer the mirror's local copy gave alone."""
STORE_UNAVAILABLE = "store-unavailable"


class App:
    """stricture-server, built from settings and its ports by :func:`create_app`."""

    def __init__(
        self,
        settings: Settings,
        runs: RunStore,
        authenticator: Authenticator,
        validator: EnvelopeValidator,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        replication: Callable[[], dict[str, Any]] | None = None,
        readiness: Readiness | None = None,
        metrics: Metrics | None = None,
        reads: RunStore | None = None,
    ) -> None:
        self.settings = settings
        self.runs = runs
        self.reads = reads or runs
        """The run store of the read API: with the mirror, its local copy answers while the
        object store is away. Ingest, the index and lineage use ``runs``, which is strict."""
        self.authenticator = authenticator
        self.validator = validator
        self.clock = clock
        self.replication = replication
        self.index = Index(runs.storage, runs.prefix)
        self.readiness = readiness or Readiness(store_check(runs.storage, runs.prefix))
        self.metrics = metrics
        self.in_flight = InFlight()
        """The requests this process is answering now (:meth:`handle` enters it)."""
        # The feed's listings at once on an object store only (a local listing waits on no
        # fsync). They get a pool of their own: they run inside a read the writes' pool
        # started, and waiting on that same pool could leave it with no thread free.
        concurrent = settings.storage_driver in CONCURRENT_DRIVERS
        self.orgs = Orgs(runs.storage, settings, Writes(concurrent=concurrent, threads=4).all)
        self.registries = RegistryStore(runs.storage, runs.prefix, clock, settings.max_errors)
        self.lineage = RunLineage(
            runs,
            self.orgs,
            self.registries,
            settings.lineage_depth,
            clock,
            settings.lineage_ingest_reach,
            settings.lineage_ingest_fresh_ms,
        )
        self.graphs = GraphAnswers(self.orgs, self.registries, settings.lineage_depth)
        self.audit = AuditTrail(runs.storage, runs.prefix)
        self.alerts = run_alerts(settings, runs.storage, runs.prefix)
        # A replicating store (mirror) has a replication status; its replays create again.
        # At once on an object store; on a filesystem while the request is alone in this
        # process, since under load the threads cost more than the overlap of fsyncs saves
        # (docs/performance.md, "Object-store latency per ingest").
        writes = Writes.for_driver(settings.storage_driver, self.in_flight)
        ask_first = replication is None
        self.writer = RunWriter(runs, self.index, self.lineage, writes, replays_ask_first=ask_first)
        views = ReadViews(
            runs, self.reads, settings.compact_grace_seconds, self.lineage.blast_radius
        )
        run_reads = RunEndpoints(self.reads, views, private=settings.auth_mode != "none")
        ingest = IngestEndpoint(
            validator,
            self.writer,
            self.lineage,
            self.alerts,
            self._audit,
            clock,
            metrics,
            settings.max_body_bytes,
            settings.max_json_values,
        )
        lineage = LineageEndpoints(
            self.lineage,
            self.graphs,
            self.registries,
            views,
            settings.max_body_bytes,
            settings.max_json_values,
        )
        audit = AuditEndpoints(self.audit, runs.storage, runs.prefix)
        alerts = AlertEndpoints(runs.storage, runs.prefix, clock)
        metrics_auth: Authenticator = (
            TokenAuth(settings.metrics_tokens) if settings.metrics == "token" else NoAuth()
        )
        operations = OperationEndpoints(
            settings.api_base_path, self.readiness, metrics, metrics_auth, replication
        )
        self.url_map = Map(
            [
                Rule("/healthz", endpoint=operations.health, methods=["GET"]),
                Rule("/v1/whoami", endpoint=operations.whoami, methods=["GET"]),
                Rule(INGEST_ROUTE, endpoint=ingest.ingest, methods=["POST"]),
                Rule("/v1/artifacts", endpoint=run_reads.organizations, methods=["GET"]),
                Rule(
                    "/v1/artifacts/<organization>/<project>/<service>/<run_id>",
                    endpoint=run_reads.read_run,
                    methods=["GET"],
                ),
                Rule("/v1/artifacts/<organization>", endpoint=run_reads.projects, methods=["GET"]),
                Rule(
                    "/v1/artifacts/<organization>/<project>",
                    endpoint=run_reads.services,
                    methods=["GET"],
                ),
                Rule(
                    "/v1/artifacts/<organization>/<project>/<service>",
                    endpoint=run_reads.runs_of,
                    methods=["GET"],
                ),
                Rule(
                    "/v1/changes/<organization>/<project>/<service>",
                    endpoint=run_reads.changes_of,
                    methods=["GET"],
                ),
                Rule("/v1/replication", endpoint=operations.replication_status, methods=["GET"]),
                Rule("/readyz", endpoint=operations.ready, methods=["GET"]),
                Rule("/metrics", endpoint=operations.scrape, methods=["GET"]),
                Rule("/v1/openapi.json", endpoint=operations.openapi, methods=["GET"]),
                Rule(
                    "/v1/blast-radius/<organization>/<project>/<service>/<run_id>",
                    endpoint=lineage.blast_radius,
                    methods=["GET"],
                ),
                Rule("/v1/graph/<organization>", endpoint=lineage.graph, methods=["GET"]),
                Rule(
                    "/v1/escalation/<organization>/<system>",
                    endpoint=lineage.escalation,
                    methods=["GET"],
                ),
                Rule(
                    "/v1/registry/<organization>",
                    endpoint=lineage.registry,
                    methods=["GET", "POST"],
                ),
                Rule("/v1/changes/<organization>", endpoint=run_reads.org_changes, methods=["GET"]),
                Rule("/v1/audit", endpoint=audit.server_audit_events, methods=["GET"]),
                Rule("/v1/audit/<organization>", endpoint=audit.audit_events, methods=["GET"]),
                Rule(
                    "/v1/audit/<organization>/verify", endpoint=audit.audit_verify, methods=["GET"]
                ),
                Rule("/v1/alerts/<organization>", endpoint=alerts.alerts_of, methods=["GET"]),
                Rule(
                    "/v1/alerts/<organization>/<alert_id>/redeliver",
                    endpoint=alerts.redeliver,
                    methods=["POST"],
                ),
            ],
            strict_slashes=False,
            merge_slashes=False,
        )

    @cached_property
    def sealer(self) -> Sealer:
        """Process mode's background sealing of the audit trail (started by the server)."""
        from .audit.sealer import Sealer

        return Sealer(self.runs.storage, self.runs.prefix, self.settings.audit_seal_seconds)

    def handle(self, request: Request) -> Response:
        """Answer one request. Never raises: every error becomes a JSON response."""
        with self.in_flight:
            return self._handle(request)

    def _handle(self, request: Request) -> Response:
        started = time.perf_counter()
        given_id = request.headers.get("X-Request-Id", "")
        # fullmatch, not match: ``$`` also matches before a final newline, and a header value
        # with a newline makes werkzeug refuse the response header (function runtimes pass one).
        request_id = given_id if _REQUEST_ID.fullmatch(given_id) else new_run_id()
        request.environ[REQUEST_ID] = request_id
        fields: Fields = {}
        route = UNMATCHED
        partial = Partial()
        args: Mapping[str, Any] = {}
        try:
            if self.settings.metrics_port and self._wrong_listener(request):
                raise NotFound()
            rule, args = self.url_map.bind_to_environ(request.environ).match(return_rule=True)
            route = rule.rule
            self._enforce(request, fields, route, args)
            with noting(partial):
                response: Response = rule.endpoint(request, fields, **args)
        except Exception as exc:
            response = self._failed(exc, request_id, route, fields)
        try:
            self._audit(request, request_id, route, response.status_code, fields, args)
        except Exception as exc:
            # An action the trail cannot record is answered as failed (503 when the store is
            # down): the client retries, and the retry (a replay) is recorded.
            response = self._failed(exc, request_id, route, fields)
        if partial.reason:
            response.headers[PARTIAL_HEADER] = STORE_UNAVAILABLE
            fields["partial"] = partial.reason
        response.headers["X-Request-Id"] = request_id
        response.headers["X-Content-Type-Options"] = "nosniff"
        duration = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.request(request.method, route, response.status_code, duration)
        # A storage outage (503) is the operator's to act on, not routine traffic.
        level = logging.WARNING if response.status_code == 503 else logging.INFO
        log.log(
            level,
            "request",
            extra={
                "fields": {
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(duration * 1000, 3),
                    **fields,
                }
            },
        )
        return response

    def _failed(self, exc: Exception, request_id: str, route: str, fields: Fields) -> Response:
        response, reason = error_response(exc)
        fields["reason"] = reason
        if self.metrics is not None and route == "/v1/artifacts":
            self.metrics.refused(exc)
        # A 503 is the store failing, not a bug: its reason is in the request line.
        if response.status_code >= 500 and response.status_code != 503:
            log.error("request failed", exc_info=exc, extra={"fields": {"request_id": request_id}})
        return response

    def _audit(
        self,
        request: Request,
        request_id: str,
        route: str,
        status: int,
        fields: Fields,
        names: Mapping[str, Any],
    ) -> None:
        """Record the answered request in the audit trail if :mod:`.audit.routes` says so."""
        if "audit" in fields:
            return  # written with the run's objects (see ingest)
        event = describe(
            route,
            request.method,
            status,
            time_ms=int(self.clock().timestamp() * 1000),
            request_id=request_id,
            identity=identity_of(principal_of(request), status),
            fields=fields,
            names=names,
        )
        if event is not None:
            fields["audit"] = self.audit.write(event).rsplit("/", 1)[1]

    def _enforce(
        self, request: Request, fields: Fields, route: str, args: Mapping[str, Any]
    ) -> None:
        """The one access decision: authenticate the caller, then check the route's grant."""
        access = route_access(route, request.method)
        if access.action is None:
            return
        principal = self.authenticator.authenticate(request)
        request.environ[PRINCIPAL] = principal
        fields["caller"] = f"{principal.kind}:{principal.id}"
        if access.target is not None:
            require(principal, access.action, access.target(args), listing=access.listing)

    def _wrong_listener(self, request: Request) -> bool:
        """With ``METRICS_ADDR``: /metrics only there, and only it and the probes there."""
        on_metrics = bool(request.environ.get(METRICS_LISTENER))
        if request.path == "/metrics":
            return not on_metrics
        return on_metrics and request.path not in ON_METRICS_LISTENER

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI face of :meth:`handle`."""
        return self.handle(Request(environ))(environ, start_response)


def create_app(settings: Settings) -> App:
    """The one factory every entry point uses."""
    logs.configure(settings.log_level)
    storage = open_storage(settings)
    replication = None
    local: Storage | None = None
    if isinstance(storage, Replicating):
        storage.start_replication()
        replication = storage.replication_status
        local = storage.local_copy()
    readiness = Readiness(store_check(storage, settings.object_prefix))
    metrics = None
    if settings.metrics != "off":
        # Imported only when on: a function's cold start and the push client skip it.
        from .metrics.recorder import Metrics
        from .metrics.storage import MeasuredStorage

        metrics = Metrics()
        storage = MeasuredStorage(storage, settings.storage_driver, metrics)
    reads = storage if local is None else LocalFirst(storage, local)
    return App(
        settings,
        RunStore(storage, settings.object_prefix),
        make_authenticator(settings),
        EnvelopeValidator(strict=settings.validation == "schema", max_errors=settings.max_errors),
        replication=replication,
        readiness=readiness,
        metrics=metrics,
        reads=RunStore(reads, settings.object_prefix),
    )
