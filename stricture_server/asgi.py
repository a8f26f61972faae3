"""An ASGI ``http`` scope, as mangum builds it from a Lambda event, as a werkzeug request.

mangum recognises the event's shape and gives its scope and its whole body (a Lambda event
holds the body whole, at most 6 MB); the request is then what every other runtime hands to
:meth:`App.handle` (:func:`~stricture_server.environ.make_request`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug import Request

from .environ import make_request


def request_from_scope(scope: Mapping[str, Any], body: bytes) -> Request:
    """The request of an ``http`` scope and its body."""
    host, port = scope.get("server") or ("localhost", 443)
    client = scope.get("client") or ("", 0)
    return make_request(
        method=scope["method"],
        path=scope["path"],
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
        body=body,
        scheme=scope.get("scheme", "https"),
        server=(host, port or 443),
        remote_addr=client[0] or "",
        # The raw platform event (mangum puts it in the scope) stays reachable.
        extra={"asgi.scope": scope},
    )
