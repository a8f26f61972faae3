"""AWS Lambda, through mangum: API Gateway REST and HTTP APIs, Function URLs and ALB events.

Install with the ``aws`` extra (``pip install '.[aws]'`` in a clone). mangum's handler for the
event's shape turns it into a scope and a body, and the response back into the shape that event
family answers with; between the two, ``App.handle`` runs directly, without mangum's asyncio
cycle (an event loop task and two queues per invocation, for an app that never awaits). An
event mangum has no handler for is answered ``400`` with JSON naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from mangum import Mangum

from .. import logs
from ..app import App
from ..asgi import request_from_scope
from ..environ import response_body
from ..errors import UnsupportedEvent
from ..function import create_function_app
from ..http_errors import error_response
from . import snapstart

SUPPORTED = "API Gateway (REST and HTTP APIs), function URL and Application Load Balancer requests"

log = logging.getLogger(logs.ACCESS)


class LambdaHandler:
    """A Lambda handler ``handler(event, context) -> response``, built once per cold start."""

    def __init__(self, app: App) -> None:
        self.app = app
        # lifespan="off": there is nothing to start or stop per instance. The base path is a
        # named HTTP API stage or a custom-domain mapping that API Gateway leaves in the path.
        # Only mangum's event handlers are used (see the module's docstring), never its cycle.
        self.mangum = Mangum(
            _no_asgi_app,
            lifespan="off",
            api_gateway_base_path=app.settings.api_base_path or "/",
        )

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        """Answer one invocation."""
        kind = unsupported_kind(event)
        if kind:
            return refusal(kind)
        try:
            handler = self.mangum.infer(event, context)
        except RuntimeError:
            return refusal(_describe(event))
        request = request_from_scope(handler.scope, handler.body)
        response = self.app.handle(request)
        return handler(
            {
                "status": response.status_code,
                "headers": [
                    [k.lower().encode("latin-1"), v.encode("latin-1")]
                    for k, v in response.headers.items()
                ],
                "body": response_body(response, request),
            }
        )


async def _no_asgi_app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("mangum's cycle is not used")  # pragma: no cover


def unsupported_kind(event: Any) -> str:
    """What ``event`` is, if it is a kind mangum would mistake for another; empty otherwise."""
    if not isinstance(event, dict):
        return f"a JSON {type(event).__name__}, not an object"
    request_context = event.get("requestContext")
    lattice_keys = {"serviceArn", "serviceNetworkArn"}
    # VPC Lattice v2 has the "version" and "requestContext" by which mangum infers an HTTP
    # API event, then fails on its missing requestContext.http with a KeyError.
    if isinstance(request_context, dict) and lattice_keys & request_context.keys():
        return f"VPC Lattice (event version {str(event.get('version'))[:10]})"
    if "raw_path" in event and "is_base64_encoded" in event:
        return "VPC Lattice (event version 1.0)"
    return ""


def _describe(event: dict[str, Any]) -> str:
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        source = records[0].get("eventSource") or records[0].get("EventSource") or "unknown"
        return f"records from {str(source)[:64]}"
    if "detail-type" in event and "source" in event:
        return f"EventBridge event from {str(event['source'])[:64]}"
    keys = ", ".join(sorted(str(k)[:32] for k in event)[:8])
    return f"unrecognised event (keys: {keys})"


def refusal(kind: str) -> dict[str, Any]:
    """The app's JSON ``400`` for an unsupported event, in the shape Lambda fronts take."""
    response, reason = error_response(UnsupportedEvent(kind, SUPPORTED))
    log.warning("unsupported event", extra={"fields": {"status": 400, "reason": reason}})
    status = HTTPStatus(response.status_code)
    return {
        "statusCode": status.value,
        # ALB and VPC Lattice targets answer with a status line too.
        "statusDescription": f"{status.value} {status.phrase}",
        "headers": dict(response.headers),
        "body": response.get_data(as_text=True),
        "isBase64Encoded": False,
    }


def scheduled_handler_from_env(env: Mapping[str, str]) -> Callable[[Any, Any], dict[str, Any]]:
    """The handler of the EventBridge schedule: the periodic tasks, once per invocation."""
    from ..scheduled import scheduled_task

    task = scheduled_task(env)
    return lambda event, context: task()


def handler_from_env(env: Mapping[str, str]) -> LambdaHandler:
    """The handler, configured from ``env`` (the function's environment variables).

    Built during the init, so with SnapStart the app and its S3 client are in the snapshot;
    :mod:`.snapstart` renews what each resumed copy must not share.
    """
    app = create_function_app(env)
    snapstart.register(app, env)
    return LambdaHandler(app)
