"""The ASGI face of :meth:`App.handle`, for mangum.

Read the whole body from ``receive``, build the request, call ``handle`` synchronously, send the
response. No WSGI-to-ASGI thread bridge: with events that carry no ``Content-Length`` those
hand the app an empty body (mangum issue #143), and they cost a thread hop per call. The body is
read whole because the platform already holds it whole (a Lambda event is at most 6 MB).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .app import App
from .environ import make_request, response_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AsgiApp:
    """An ASGI 3 application that serves ``http`` scopes with :meth:`App.handle`."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ``http`` scope."""
        if scope["type"] != "http":
            # mangum runs with lifespan="off"; there is no other scope to serve.
            raise ValueError(f"unsupported ASGI scope type {scope['type']!r}")
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        host, port = scope.get("server") or ("localhost", 443)
        client = scope.get("client") or ("", 0)
        request = make_request(
            method=scope["method"],
            path=scope["path"],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=bytes(body),
            scheme=scope.get("scheme", "https"),
            server=(host, port or 443),
            remote_addr=client[0] or "",
            # The raw platform event (mangum puts it in the scope) stays reachable.
            extra={"asgi.scope": scope},
        )
        response = self.app.handle(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [
                    (k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in response.headers.items()
                ],
            }
        )
        await send({"type": "http.response.body", "body": response_body(response, request)})
