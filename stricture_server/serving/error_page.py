"""Responses the HTTP server writes itself, before or instead of the app, as raw bytes."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

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


class StatusKeeper:
    """Stands for the client socket while gunicorn writes its error page: keeps the status."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.status: int | None = None

    def gettimeout(self) -> float:
        # gunicorn then writes with one sendall, without switching the socket's blocking mode.
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.status = int(data.split(b" ", 2)[1])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
