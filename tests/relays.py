"""Stand-ins for what sits between a CI job and the server: a relay that cuts a connection,
and the GitHub Actions runner's OIDC token endpoint."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


class CuttingRelay:
    """A TCP relay to ``port`` that closes its first ``cuts`` connections mid-request.

    Each cut connection is read up to ``after`` bytes (the head and part of the body) and then
    closed without an answer, as a load balancer restarting or a network failing would.
    """

    def __init__(self, port: int, cuts: int = 1, after: int = 300) -> None:
        self.upstream = port
        self.cuts = cuts
        self.after = after
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            cut = self.connections <= self.cuts
            threading.Thread(target=self._serve, args=(client, cut), daemon=True).start()

    def _serve(self, client: socket.socket, cut: bool) -> None:
        with client:
            if cut:
                received = 0
                while received < self.after and (chunk := client.recv(self.after - received)):
                    received += len(chunk)
                return
            with socket.create_connection(("127.0.0.1", self.upstream)) as upstream:
                back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
                back.start()
                _pump(client, upstream)
                back.join()

    def close(self) -> None:
        """Stop accepting."""
        self._listener.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
        sink.shutdown(socket.SHUT_WR)


@contextmanager
def cutting_relay(port: int, cuts: int = 1) -> Iterator[CuttingRelay]:
    """A :class:`CuttingRelay` to ``port``, closed after."""
    relay = CuttingRelay(port, cuts)
    try:
        yield relay
    finally:
        relay.close()


@contextmanager
def oidc_runner(token: str) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """The runner's ID-token endpoint: its URL and the requests it got (path, authorization).

    It answers ``{"value": token}`` as the Actions runtime does.
    """
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            seen.append({"path": self.path, "authorization": self.headers["Authorization"]})
            body = orjson.dumps({"value": token})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token?api-version=2.0", seen
    finally:
        server.shutdown()
        server.server_close()
