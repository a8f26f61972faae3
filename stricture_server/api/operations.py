"""The operator's endpoints: health, readiness, metrics, the OpenAPI document, whoami,
replication status."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import orjson
from werkzeug import Request, Response
from werkzeug.exceptions import NotFound

from ..auth import Authenticator
from ..http_errors import json_response
from ..readiness import Readiness
from .requests import Fields, caller, no_query

if TYPE_CHECKING:
    from ..metrics.recorder import Metrics


class OperationEndpoints:
    """Probes, scrapes and self-description: nothing here reads or writes a run."""

    def __init__(
        self,
        api_base_path: str,
        readiness: Readiness,
        metrics: Metrics | None,
        metrics_auth: Authenticator,
        replication: Callable[[], dict[str, Any]] | None,
    ) -> None:
        self.api_base_path = api_base_path
        self.readiness = readiness
        self.metrics = metrics
        self.metrics_auth = metrics_auth
        self.replication = replication

    def whoami(self, request: Request, fields: Fields) -> Response:
        """``GET /v1/whoami``: the caller's identity and grants, to debug a CI setup."""
        no_query(request)
        return json_response(200, caller(request).as_json())

    def health(self, request: Request, fields: Fields) -> Response:
        """``GET /healthz``: the process is up. Never behind auth."""
        return health_response()

    def ready(self, request: Request, fields: Fields) -> Response:
        """``GET /readyz``: the configured store answers (checked at most every 2 s)."""
        self.readiness.require()
        return json_response(200, {"status": "ready"})

    @cached_property
    def openapi_document(self) -> bytes:
        """The OpenAPI document, built on first use: a function's cold start skips it."""
        from ..openapi import build_document

        return orjson.dumps(build_document(self.api_base_path))

    def openapi(self, request: Request, fields: Fields) -> Response:
        """``GET /v1/openapi.json``: the OpenAPI 3.1 document of this API. Never behind auth."""
        return Response(self.openapi_document, 200, mimetype="application/json")

    def scrape(self, request: Request, fields: Fields) -> Response:
        """``GET /metrics``: Prometheus metrics; 404 unless ``STRICTURE_SERVER_METRICS`` is on."""
        if self.metrics is None:
            raise NotFound()
        self.metrics_auth.authenticate(request)
        from ..metrics.exposition import scrape

        text, content_type = scrape(self.metrics, self.replication)
        return Response(text, 200, content_type=content_type)

    def replication_status(self, request: Request, fields: Fields) -> Response:
        """``GET /v1/replication``: the mirror's replication counts; 404 on other drivers."""
        if self.replication is None:
            raise NotFound()
        return json_response(200, self.replication())


def health_response() -> Response:
    """The answer to ``GET /healthz``: it asks nothing of the store or of the request."""
    return json_response(200, {"status": "ok"})
