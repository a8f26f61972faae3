"""The application: one pure entry, ``App.handle(request) -> response``, for every runtime."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from werkzeug import Request, Response
from werkzeug.exceptions import NotFound
from werkzeug.routing import Map, Rule

from . import logs
from .auth import Authenticator, make_authenticator
from .body import check_media_type, parse_json, read_body
from .errors import InvalidInput
from .http_errors import error_response, json_response
from .identity import new_run_id
from .index import Index, RunFacts
from .query_params import NONE, parse
from .records import LATEST, identity_from_path, normalize
from .runs import RunStore
from .settings import Settings
from .storage import Replicating, open_storage
from .validation import EnvelopeValidator

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .listings import Listings
    from .query import Queries
    from .query_params import Args

log = logging.getLogger(logs.ACCESS)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")

Fields = dict[str, Any]

IMMUTABLE_MAX_AGE = 31536000
"""One year, in seconds: how long a run read by id may be cached."""


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
    ) -> None:
        self.settings = settings
        self.runs = runs
        self.authenticator = authenticator
        self.validator = validator
        self.clock = clock
        self.replication = replication
        self.index = Index(runs.storage, runs.prefix)
        self.url_map = Map(
            [
                Rule("/healthz", endpoint=self.health, methods=["GET"]),
                Rule("/v1/artifacts", endpoint=self.ingest, methods=["POST"]),
                Rule("/v1/artifacts", endpoint=self.organizations, methods=["GET"]),
                Rule(
                    "/v1/artifacts/<organization>/<project>/<service>/<run_id>",
                    endpoint=self.read_run,
                    methods=["GET"],
                ),
                Rule("/v1/artifacts/<organization>", endpoint=self.projects, methods=["GET"]),
                Rule(
                    "/v1/artifacts/<organization>/<project>",
                    endpoint=self.services,
                    methods=["GET"],
                ),
                Rule(
                    "/v1/artifacts/<organization>/<project>/<service>",
                    endpoint=self.runs_of,
                    methods=["GET"],
                ),
                Rule(
                    "/v1/changes/<organization>/<project>/<service>",
                    endpoint=self.changes_of,
                    methods=["GET"],
                ),
                Rule("/v1/replication", endpoint=self.replication_status, methods=["GET"]),
            ],
            strict_slashes=False,
            merge_slashes=False,
        )

    @cached_property
    def queries(self) -> Queries:
        """The read API, imported on first use: a function's cold start for ingest skips it."""
        from .query import Queries

        return Queries(self.runs)

    @cached_property
    def listings(self) -> Listings:
        """The listings of names, imported on first use like :attr:`queries`."""
        from .listings import Listings

        return Listings(self.runs.storage, self.runs.prefix)

    def handle(self, request: Request) -> Response:
        """Answer one request. Never raises: every error becomes a JSON response."""
        started = time.perf_counter()
        given_id = request.headers.get("X-Request-Id", "")
        # fullmatch, not match: ``$`` also matches before a final newline, and a header value
        # with a newline makes werkzeug refuse the response header (function runtimes pass one).
        request_id = given_id if _REQUEST_ID.fullmatch(given_id) else new_run_id()
        fields: Fields = {}
        try:
            endpoint, args = self.url_map.bind_to_environ(request.environ).match()
            response: Response = endpoint(request, fields, **args)
        except Exception as exc:
            response, reason = error_response(exc)
            fields["reason"] = reason
            # A 503 is the store failing, not a bug: its reason is in the request line below.
            if response.status_code >= 500 and response.status_code != 503:
                log.error(
                    "request failed", exc_info=exc, extra={"fields": {"request_id": request_id}}
                )
        response.headers["X-Request-Id"] = request_id
        response.headers["X-Content-Type-Options"] = "nosniff"
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
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    **fields,
                }
            },
        )
        return response

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI face of :meth:`handle`."""
        return self.handle(Request(environ))(environ, start_response)

    def health(self, request: Request, fields: Fields) -> Response:
        """``GET /healthz``: the process is up. Never behind auth."""
        return health_response()

    def ingest(self, request: Request, fields: Fields) -> Response:
        """``POST /v1/artifacts``: validate the envelope and store the run once."""
        self.authenticator.authenticate(request)
        check_media_type(request.mimetype)
        body = read_body(
            request.stream,
            content_length=request.content_length,
            encoding=request.headers.get("Content-Encoding", ""),
            limit=self.settings.max_body_bytes,
        )
        document = parse_json(body, max_values=self.settings.max_json_values)
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
        # The artifact is serialised into the record now; the rest feeds the index below.
        del document["artifact"]
        identity = record.identity
        fields.update(
            organization=identity.organization,
            project=identity.project,
            service=identity.service,
            run_id=identity.run_id,
        )
        accepted = self.runs.create(record, received)
        fields["replay"] = accepted.replay
        # Indexed after the record is stored, with the run's first received time, so an
        # identical replay also completes the index of a first attempt that stopped early.
        self.index.add(RunFacts.from_fields(identity, document, accepted.received_at))
        return json_response(
            202,
            {"accepted": True, "run_id": identity.run_id, "location": identity.location},
            {"Location": identity.location},
        )

    def read_run(
        self,
        request: Request,
        fields: Fields,
        organization: str,
        project: str,
        service: str,
        run_id: str,
    ) -> Response:
        """``GET /v1/artifacts/{org}/{project}/{service}/{run_id}``: the stored record."""
        self.authenticator.authenticate(request)
        parse(request.args.to_dict(flat=False), NONE)
        identity = identity_from_path(organization, project, service, run_id)
        latest = identity.run_id == LATEST
        stored = self.queries.latest(identity) if latest else self.runs.read_record(identity)
        response = Response(stored.data, 200, mimetype="application/json")
        if latest:
            response.headers["Content-Location"] = stored.identity.location
        # A record never changes, so its digest is a strong validator and a run by id may be
        # cached for good; ``latest`` names another run as soon as one arrives.
        response.set_etag(stored.digest)
        cache = response.cache_control
        if self.settings.auth_mode != "none":
            cache.private = True
        else:
            cache.public = True
        if latest:
            cache.no_cache = True
        else:
            cache.max_age = IMMUTABLE_MAX_AGE
            cache.immutable = True
        response.make_conditional(request)
        if response.status_code == 304:
            # Only the WSGI path drops a 304's body; the function runtimes send get_data().
            response.set_data(b"")
            del response.headers["Content-Length"]
        return response

    def _answer(self, request: Request, answer: Callable[[Args], dict[str, Any]]) -> Response:
        self.authenticator.authenticate(request)
        return json_response(200, answer(request.args.to_dict(flat=False)))

    def organizations(self, request: Request, fields: Fields) -> Response:
        """``GET /v1/artifacts``: the organizations."""
        return self._answer(request, self.listings.organizations)

    def projects(self, request: Request, fields: Fields, organization: str) -> Response:
        """``GET /v1/artifacts/{org}``: the organization's projects."""
        return self._answer(request, lambda a: self.listings.projects_of(organization, a))

    def services(
        self, request: Request, fields: Fields, organization: str, project: str
    ) -> Response:
        """``GET /v1/artifacts/{org}/{project}``: the project's services and their latest runs."""
        return self._answer(request, lambda a: self.listings.services_of(organization, project, a))

    def runs_of(self, request: Request, fields: Fields, **names: str) -> Response:
        """``GET /v1/artifacts/{org}/{project}/{service}``: run summaries, newest first."""
        return self._answer(request, lambda a: self.queries.runs_of(**names, args=a))

    def changes_of(self, request: Request, fields: Fields, **names: str) -> Response:
        """``GET /v1/changes/{org}/{project}/{service}``: the change feed, newest first."""
        return self._answer(request, lambda a: self.queries.changes_of(**names, args=a))

    def replication_status(self, request: Request, fields: Fields) -> Response:
        """``GET /v1/replication``: the mirror's replication counts; 404 on other drivers."""
        self.authenticator.authenticate(request)
        if self.replication is None:
            raise NotFound()
        return json_response(200, self.replication())


def health_response() -> Response:
    """The answer to ``GET /healthz``: it asks nothing of the store or of the request."""
    return json_response(200, {"status": "ok"})


def create_app(settings: Settings) -> App:
    """The one factory every entry point uses."""
    logs.configure(settings.log_level)
    storage = open_storage(settings)
    replication = None
    if isinstance(storage, Replicating):
        storage.start_replication()
        replication = storage.replication_status
    return App(
        settings,
        RunStore(storage, settings.object_prefix),
        make_authenticator(settings),
        EnvelopeValidator(strict=settings.validation == "schema", max_errors=settings.max_errors),
        replication=replication,
    )
