"""Google Cloud Functions (2nd gen), through functions-framework.

Install with the ``gcp`` extra (``pip install '.[gcp]'`` in a clone). An HTTP function
receives a ``flask.Request``, which is a werkzeug request, and may return a werkzeug response,
so the function only hands the request to :meth:`App.handle`: nothing reads the body before the
core.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

from werkzeug import Request, Response

from ..function import create_function_app
from ..http_errors import json_response
from ..settings import ConfigError

HttpFunction = Callable[[Request], Response]


def scheduled_function_from_env(env: Mapping[str, str]) -> HttpFunction:
    """The HTTP function Cloud Scheduler calls: the periodic tasks, once per request."""
    from ..scheduled import scheduled_task

    task = scheduled_task(env)

    def stricture_scheduled(request: Request) -> Response:
        return json_response(200, task())

    return stricture_scheduled


def function_from_env(env: Mapping[str, str]) -> HttpFunction:
    """The HTTP function, configured from ``env`` (the function's environment variables)."""
    try:
        app = create_function_app(env)
    except ConfigError as exc:
        # functions-framework would print the whole traceback of importing the entry; the
        # setting's one line says all, with process mode's wording and exit code.
        print(f"stricture-server: configuration error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None

    # functions-framework accepts a plain function only, not a bound method.
    def stricture(request: Request) -> Response:
        return app.handle(request)

    return stricture
