"""Google Cloud Functions (2nd gen), through functions-framework.

Install with the ``gcp`` extra (``pip install '.[gcp]'`` in a clone). An HTTP function
receives a ``flask.Request``, which is a werkzeug request, and may return a werkzeug response,
so the function only hands the request to :meth:`App.handle`: nothing reads the body before the
core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from werkzeug import Request, Response

from ..function import create_function_app

HttpFunction = Callable[[Request], Response]


def function_from_env(env: Mapping[str, str]) -> HttpFunction:
    """The HTTP function, configured from ``env`` (the function's environment variables)."""
    app = create_function_app(env)

    # functions-framework accepts a plain function only, not a bound method.
    def stricture(request: Request) -> Response:
        return app.handle(request)

    return stricture
