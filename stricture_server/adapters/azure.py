"""Azure Functions (Python v2 programming model), through azure-functions.

Install with the ``azure`` extra (``pip install '.[azure]'`` in a clone). One anonymous
catch-all route hands every request to :meth:`App.handle`. The library's ``WsgiFunctionApp`` is
not used: it raises on any 5xx of the app (a deliberate 503 with ``Retry-After`` would become the
host's bare 500).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import azure.functions as func
from werkzeug import Request, Response

from ..app import App
from ..environ import make_request, response_body
from ..function import create_function_app

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def to_response(response: Response, request: Request) -> func.HttpResponse:
    """The werkzeug response to ``request`` as the Functions host takes it (no body for HEAD)."""
    out = func.HttpResponse(
        response_body(response, request),
        status_code=response.status_code,
        mimetype=response.mimetype or "application/octet-stream",
    )
    for name, value in response.headers.items():
        out.headers.add(name, value)
    return out


def handle(app: App, req: func.HttpRequest) -> func.HttpResponse:
    """Translate one request to the app and its answer back."""
    url = urlsplit(req.url)
    request = make_request(
        method=req.method,
        path=unquote(url.path) or "/",
        query_string=url.query,
        headers=req.headers.items(),
        body=req.get_body(),
        scheme=url.scheme or "https",
        server=(url.hostname or "localhost", url.port or (443 if url.scheme == "https" else 80)),
        extra={"azure.request": req},
    )
    return to_response(app.handle(request), request)


SCHEDULE = "0 */1 * * * *"
"""The timer trigger's NCRONTAB schedule (with seconds): every minute."""


def function_app(
    app: App, scheduled: Callable[[], dict[str, Any]] | None = None
) -> func.FunctionApp:
    """A function app with one catch-all HTTP function serving ``app``, and a timer trigger
    running the periodic tasks (``scheduled``) every minute."""
    functions = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    if scheduled is not None:

        @functions.timer_trigger(schedule=SCHEDULE, arg_name="timer", run_on_startup=False)
        def scheduled_tasks(timer: func.TimerRequest) -> None:
            scheduled()

    # Anonymous at the host: the app authenticates requests itself. host.json sets the route
    # prefix to "" so paths are the same as in every other runtime.
    @functions.route(route="{*route}", methods=METHODS, auth_level=func.AuthLevel.ANONYMOUS)
    def stricture(req: func.HttpRequest) -> func.HttpResponse:
        return handle(app, req)

    return functions


def function_app_from_env(env: Mapping[str, str]) -> func.FunctionApp:
    """The function app, configured from ``env`` (the app settings)."""
    from ..scheduled import scheduled_task

    return function_app(create_function_app(env), scheduled_task(env))
