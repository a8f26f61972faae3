"""A proxy that adds a fixed delay to every HTTP request to an object store, and counts them.

It stands for the network between a server and S3: each request waits ``delay`` seconds
before it is sent on (a round trip's worth), so a run's storage requests made one after the
other cost one delay each, and requests made at once cost one delay together. It records each
request's method, path and body size, to tell what an ingest sent.

It runs in a process of its own (``python latency_proxy.py UPSTREAM DELAY``), as the network
does: in the benchmark's process its CPU would share one interpreter lock with the client
whose round trips the benchmark times. ``GET /__proxy__/seen`` answers what it has seen since
the last such request, and its own CPU time.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "expect"}
_CONTROL = "/__proxy__/seen"


@dataclass(frozen=True)
class Seen:
    """One request as the proxy saw it."""

    method: str
    path: str
    sent_bytes: int
    arrived: float
    """Wall clock (``time.time``) once the request was read, before the delay."""
    store_seconds: float
    """How long the store (moto) took to answer, its queue included."""
    answered: float
    """Wall clock as the answer was sent back."""


@dataclass
class LatencyProxy:
    """The running proxy, seen from the benchmark: its port, and what it has seen."""

    port: int

    @property
    def url(self) -> str:
        """The endpoint to give the S3 client."""
        return f"http://127.0.0.1:{self.port}"

    def take(self) -> list[Seen]:
        """What was seen since the last call, forgotten now."""
        return [Seen(*row) for row in self._control()["seen"]]

    def cpu_seconds(self) -> float:
        """CPU time the proxy process has used so far."""
        return float(self._control(peek=True)["cpu"])

    def _control(self, *, peek: bool = False) -> dict[str, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request("GET", _CONTROL + ("?peek" if peek else ""))
            answer: dict[str, Any] = json.loads(connection.getresponse().read())
            return answer
        finally:
            connection.close()


def _handler(upstream: str, delay: float) -> type[BaseHTTPRequestHandler]:
    local = threading.local()
    lock = threading.Lock()
    seen: list[tuple[str, str, int, float, float, float]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def _control(self) -> None:
            nonlocal seen
            with lock:
                taken = list(seen) if self.path.endswith("?peek") else seen
                if taken is seen:
                    seen = []
            body = json.dumps({"seen": taken, "cpu": time.process_time()}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self) -> None:
            if self.path.startswith(_CONTROL):
                self._control()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            arrived = time.time()
            time.sleep(delay)  # the round trip to the store
            connection = getattr(local, "upstream", None)
            if connection is None:
                connection = local.upstream = http.client.HTTPConnection(upstream)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            asked = time.perf_counter()
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            store_seconds = time.perf_counter() - asked
            # Counted before it is answered: once the server answers its client, every one of
            # its requests is in ``seen``.
            row = (self.command, self.path, len(body), arrived, store_seconds, time.time())
            with lock:
                seen.append(row)
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    return Handler


@contextmanager
def latency_proxy(upstream: str, delay: float) -> Iterator[LatencyProxy]:
    """The proxy in front of ``upstream`` (``host:port``) in a process of its own, stopped after."""
    command = [sys.executable, str(Path(__file__).resolve()), upstream, repr(delay)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())  # printed once it listens
        yield LatencyProxy(port)
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    """Serve until terminated: ``latency_proxy.py UPSTREAM DELAY_SECONDS``."""
    upstream, delay = sys.argv[1], float(sys.argv[2])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, delay))
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
