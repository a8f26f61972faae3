"""Cloud-function deliveries: each platform's deployable entry under the platform's own runtime.

Every delivery loads the entry file under ``adapters/`` the way its platform does (settings read
from the environment at cold start) and declares the largest body the platform lets through.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, ExitStack
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import azure.functions as func
import functions_framework
from azure.functions import meta
from azure.functions.http import HttpRequestConverter, HttpResponseConverter
from werkzeug.datastructures import Headers

from . import lambda_events
from .deliveries import Delivery, Reply, http_send, server_process
from .entries import ADAPTERS, FUNCTION_SETTINGS, MB, check_body, environment, load_entry
from .lambda_deliveries import (
    ALB_LIMIT,
    LAMBDA_BODY_LIMIT,
    EventBuilder,
    LambdaDelivery,
    lambda_handler,
    lambda_runtime,
)

GCF_LIMIT = 32 * MB
"""HTTP request size of Cloud Functions (2nd gen).
https://cloud.google.com/functions/quotas#resource_limits"""
AZURE_LIMIT = 100 * MB
"""HTTP request length of Azure Functions.
https://learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger#limits"""


class GcfClientDelivery:
    """``adapters/gcp_functions/main.py`` in functions-framework's own Flask app, in-process."""

    name = "gcf"
    max_body_bytes: int | None = GCF_LIMIT

    def __init__(self, env: Mapping[str, str]) -> None:
        with environment(env):
            # functions-framework's create_app carries no annotations.
            app = functions_framework.create_app(  # type: ignore[no-untyped-call]
                target="stricture", source=str(ADAPTERS / "gcp_functions" / "main.py")
            )
        self.client = app.test_client()

    def send(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> Reply:
        """Call the Flask app."""
        check_body(GCF_LIMIT, body)
        response = self.client.open(path, method=method, headers=dict(headers), data=body)
        return Reply(response.status_code, Headers(response.headers), response.get_data())


class GcfProcessDelivery:
    """The real ``functions-framework`` process serving ``adapters/gcp_functions/``."""

    name = "gcf-process"
    max_body_bytes: int | None = GCF_LIMIT

    def __init__(self, port: int) -> None:
        self.port = port

    def send(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> Reply:
        """Send over a socket."""
        check_body(GCF_LIMIT, body)
        return http_send(self.port, method, path, headers, body)


def gcf_process(env: Mapping[str, str]) -> AbstractContextManager[tuple[int, Any]]:
    """``functions-framework --target stricture`` on a loopback port."""
    command = [
        sys.executable,
        "-m",
        "functions_framework",
        "--target=stricture",
        f"--source={ADAPTERS / 'gcp_functions' / 'main.py'}",
        "--host=127.0.0.1",
        "--port={port}",
    ]
    return server_process(env, command)


class AzureDelivery:
    """``adapters/azure_functions/function_app.py``, its registered function called through
    the library's own converters, the layer between the Functions host and the function."""

    name = "azure"
    max_body_bytes: int | None = AZURE_LIMIT

    def __init__(self, env: Mapping[str, str]) -> None:
        module = load_entry("azure_functions/function_app.py", env, "azure_function_app")
        (function,) = [
            f for f in module.app.get_functions() if f.get_function_name() == "stricture"
        ]
        self.function: Callable[[func.HttpRequest], func.HttpResponse] = (
            function.get_user_function()
        )

    def send(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> Reply:
        """Convert the request as the host hands it over, call, convert the answer back."""
        check_body(AZURE_LIMIT, body)
        route, _, raw_query = path.partition("?")
        # The host joins repeated headers and query keys; the raw query stays in the URL.
        joined: dict[str, str] = {}
        for name, value in headers.items():
            key = name.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        datum = meta.Datum(
            type="http",
            value={
                "method": meta.Datum(method, "string"),
                "url": meta.Datum(f"https://stricture.azurewebsites.net{path}", "string"),
                "headers": {k: meta.Datum(v, "string") for k, v in joined.items()},
                "query": {k: meta.Datum(v, "string") for k, v in query.items()},
                "params": {"route": meta.Datum(route.lstrip("/"), "string")},
                "body": meta.Datum(body, "bytes"),
            },
        )
        request = HttpRequestConverter.decode(datum, trigger_metadata=None)
        response = self.function(request)
        out = HttpResponseConverter.encode(response, expected_type=func.HttpResponse).value
        reply_headers = Headers([(n, d.value) for n, d in out["headers"].items()])
        return Reply(int(out["status_code"].value), reply_headers, out["body"].value)


DeliveryFactory = Callable[[dict[str, str], ExitStack], Delivery]


def _lambda(
    name: str, build: EventBuilder, limit: int, settings: Mapping[str, str] | None = None
) -> DeliveryFactory:
    def make(env: dict[str, str], stack: ExitStack) -> Delivery:
        full = {**env, **FUNCTION_SETTINGS, **(settings or {})}
        return LambdaDelivery(name, build, lambda_handler(full, name.replace("-", "_")), limit)

    return make


def _lambda_runtime(env: dict[str, str], stack: ExitStack) -> Delivery:
    invoke = stack.enter_context(lambda_runtime({**env, **FUNCTION_SETTINGS}))
    return LambdaDelivery("lambda-runtime", lambda_events.http_v2, invoke, LAMBDA_BODY_LIMIT)


def _gcf(env: dict[str, str], stack: ExitStack) -> Delivery:
    return GcfClientDelivery({**env, **FUNCTION_SETTINGS})


def _gcf_process(env: dict[str, str], stack: ExitStack) -> Delivery:
    port, _ = stack.enter_context(gcf_process({**env, **FUNCTION_SETTINGS}))
    return GcfProcessDelivery(port)


def _azure(env: dict[str, str], stack: ExitStack) -> Delivery:
    return AzureDelivery({**env, **FUNCTION_SETTINGS})


FUNCTION_DELIVERIES: dict[str, DeliveryFactory] = {
    # A REST API behind a custom domain whose base path mapping is "lineage".
    "lambda-rest-v1": _lambda(
        "lambda-rest-v1",
        partial(lambda_events.rest_v1, base_path="/lineage"),
        LAMBDA_BODY_LIMIT,
        {"STRICTURE_SERVER_API_BASE_PATH": "/lineage"},
    ),
    "lambda-http-v1": _lambda("lambda-http-v1", lambda_events.http_v1, LAMBDA_BODY_LIMIT),
    # An HTTP API on a named stage, which stays in the path.
    "lambda-http-v2": _lambda(
        "lambda-http-v2",
        partial(lambda_events.http_v2, stage="ci"),
        LAMBDA_BODY_LIMIT,
        {"STRICTURE_SERVER_API_BASE_PATH": "/ci"},
    ),
    "lambda-url": _lambda("lambda-url", lambda_events.function_url, LAMBDA_BODY_LIMIT),
    "lambda-alb-multi": _lambda(
        "lambda-alb-multi", partial(lambda_events.alb, multi_value=True), ALB_LIMIT
    ),
    "lambda-alb-single": _lambda(
        "lambda-alb-single", partial(lambda_events.alb, multi_value=False), ALB_LIMIT
    ),
    "lambda-runtime": _lambda_runtime,
    "gcf": _gcf,
    "gcf-process": _gcf_process,
    "azure": _azure,
}
"""The cloud-function entries of ``DELIVERIES``."""
