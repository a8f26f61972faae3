"""Adapter overhead per invocation, and storage requests per ingest on an object store.

Adapter overhead: the same ``GET /healthz`` through each platform adapter and straight into
``App.handle``; the difference is what the translation costs. Storage requests: ingests
through ``App.handle`` with the ``s3`` driver against moto's server over real HTTP,
counting botocore ``before-send`` events (one per HTTP request, retries included).
Both are measured only when the modules exist.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bodies import Body
from coldstart import exists
from moto_bucket import moto_bucket
from validation_cost import paired
from werkzeug import Request
from werkzeug.test import EnvironBuilder

from stricture_server import Settings, create_app
from stricture_server.app import App


@dataclass(frozen=True)
class Overhead:
    """Median microseconds per invocation through an adapter and straight into the core."""

    adapter: str
    adapter_us: float
    direct_us: float

    @property
    def overhead_us(self) -> float:
        """What the adapter adds."""
        return self.adapter_us - self.direct_us


def _http_api_event(path: str) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as in the AWS Lambda developer guide.

    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
    """
    host = "abc123.execute-api.eu-west-1.amazonaws.com"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": host, "user-agent": "bench", "x-forwarded-proto": "https"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": host,
            "domainPrefix": "abc123",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "bench",
            },
            "requestId": "bench-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "28/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795867200000,
        },
        "isBase64Encoded": False,
    }


class _LambdaContext:
    """The attributes mangum and the app may read from a Lambda context."""

    function_name = "stricture"
    aws_request_id = "bench-request"
    memory_limit_in_mb = 512


def _quiet(app: App) -> App:
    for handler in logging.getLogger("stricture_server").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(io.StringIO())
    return app


def overhead(work: Path, *, budget: float, rounds: int) -> list[Overhead]:
    """Per-invocation cost of every adapter that exists, against ``App.handle`` directly."""
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(work / "adapter-data"),
        "STRICTURE_SERVER_ALLOW_EPHEMERAL_STORAGE": "true",
    }
    app = _quiet(create_app(Settings.from_env(env)))
    environ = EnvironBuilder(path="/healthz", method="GET").get_environ()
    calls: dict[str, Callable[[], int]] = {
        "direct": lambda: app.handle(Request(dict(environ))).status_code
    }
    if exists("stricture_server.adapters.aws_lambda"):
        from stricture_server.adapters.aws_lambda import LambdaHandler

        handler = LambdaHandler(app)
        event, context = _http_api_event("/healthz"), _LambdaContext()
        calls["AWS Lambda (mangum, HTTP API event)"] = lambda: handler(event, context)["statusCode"]
    if exists("stricture_server.adapters.azure"):
        import azure.functions as func

        from stricture_server.adapters.azure import handle

        def azure_call() -> int:
            request = func.HttpRequest("GET", "https://stricture.example/healthz", body=b"")
            return int(handle(app, request).status_code)

        calls["Azure Functions (HttpRequest)"] = azure_call
    for name, call in calls.items():
        if call() != 200:
            raise SystemExit(f"benchmarks: {name} did not answer 200")
    costs = paired(list(calls.values()), budget=budget, rounds=rounds)
    direct = costs[0] * 1000
    return [
        Overhead(name, cost * 1000, direct)
        for name, cost in zip(list(calls)[1:], costs[1:], strict=True)
    ]


@dataclass(frozen=True)
class Requests:
    """HTTP requests the object store saw per ingest."""

    driver: str
    new_run: dict[str, float]
    """Requests per new run, by ``METHOD object``."""
    replay: dict[str, float]
    """Requests per identical replay, by ``METHOD object``."""


def storage_requests(small: Body, *, ingests: int) -> Requests | None:
    """Requests per new run and per identical replay, ``s3`` driver on moto over HTTP."""
    if not exists("stricture_server.storage.s3"):
        return None
    with moto_bucket("bench") as (endpoint, bucket):
        env = {
            "STRICTURE_SERVER_STORAGE_DRIVER": "s3",
            "STRICTURE_SERVER_OBJECT_BUCKET": bucket,
            "AWS_ENDPOINT_URL_S3": endpoint,
        }
        app = _quiet(create_app(Settings.from_env(env)))
        client = app.runs.storage.client  # type: ignore[attr-defined]
        seen: list[str] = []
        client.meta.events.register(
            "before-send.s3", lambda request, **_: seen.append(_operation(request))
        )

        def ingest(run_id: str) -> None:
            request = Request(
                EnvironBuilder(
                    path="/v1/artifacts",
                    method="POST",
                    data=small.with_run_id(run_id),
                    content_type="application/json",
                ).get_environ()
            )
            status = app.handle(request).status_code
            if status != 202:
                raise SystemExit(f"benchmarks: ingest on s3 answered {status}")

        tag = uuid.uuid4().hex[:8]
        # The service's first run also enters its names (docs/storage.md): not a new run's cost.
        ingest(f"{tag}-first")
        seen.clear()
        for number in range(ingests):
            ingest(f"{tag}-{number}")
        new_runs = list(seen)
        seen.clear()
        for number in range(ingests):
            ingest(f"{tag}-{number}")
        return Requests("s3", _per_ingest(new_runs, ingests), _per_ingest(seen, ingests))


def _per_ingest(seen: list[str], ingests: int) -> dict[str, float]:
    counts: dict[str, float] = {}
    for name in seen:
        counts[name] = counts.get(name, 0) + 1 / ingests
    return counts


def _operation(request: Any) -> str:
    """``METHOD kind`` of a botocore request: ``PUT claim``, ``GET record``, ``PUT index``..."""
    path = unquote(urlsplit(request.url).path)
    kind = "index"
    if "/runs/run=" in path:
        kind = "claim"
    elif path.endswith("/payload.json"):
        kind = "record"
    return f"{request.method} {kind}"
