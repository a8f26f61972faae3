"""Responses the HTTP server writes itself, before or instead of the app, as raw bytes."""

from __future__ import annotations

from http import HTTPStatus

from werkzeug import Response

from ..runstore.identity import new_run_id


def raw_response(response: Response) -> bytes:
    """``response`` as HTTP/1.1 bytes on a connection that closes after it."""
    status = HTTPStatus(response.status_code)
    head = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        "Connection: close",
        f"X-Request-Id: {new_run_id()}",
        "X-Content-Type-Options: nosniff",
    ]
    head += [f"{name}: {value}" for name, value in response.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.get_data()
