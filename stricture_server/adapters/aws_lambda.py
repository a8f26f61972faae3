"""AWS Lambda, through mangum: API Gateway REST and HTTP APIs, Function URLs and ALB events.

Install with ``pip install 'stricture-server[aws]'``. mangum recognises the event shape and
turns it into an ASGI call; :class:`~stricture_server.asgi.AsgiApp` ends it in ``App.handle``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mangum import Mangum

from ..app import App
from ..asgi import AsgiApp
from ..function import create_function_app


class LambdaHandler:
    """A Lambda handler ``handler(event, context) -> response``, built once per cold start."""

    def __init__(self, app: App) -> None:
        self.app = app
        # lifespan="off": there is nothing to start or stop per instance. The base path is a
        # named HTTP API stage or a custom-domain mapping that API Gateway leaves in the path.
        self.mangum = Mangum(
            AsgiApp(app),
            lifespan="off",
            api_gateway_base_path=app.settings.api_base_path or "/",
        )

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Answer one invocation."""
        return self.mangum(event, context)


def handler_from_env(env: Mapping[str, str]) -> LambdaHandler:
    """The handler, configured from ``env`` (the function's environment variables)."""
    return LambdaHandler(create_function_app(env))
