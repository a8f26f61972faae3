"""A proxy that adds a fixed delay to every HTTP request to an object store, and counts them.

It stands for the network between a server and S3: each request waits ``delay`` seconds
before it is sent on (a round trip's worth), so a run's storage requests made one after the
other cost one delay each, and requests made at once cost one delay together. It records each
request's method, path and body size, to tell what an ingest sent.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "expect"}


@dataclass(frozen=True)
class Seen:
    """One request as the proxy saw it."""

    method: str
    path: str
    sent_bytes: int


@dataclass
class LatencyProxy:
    """The proxy's settings and what it has seen (read :attr:`seen` between measurements)."""

    upstream: str
    delay: float
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The endpoint to give the S3 client."""
        return f"http://127.0.0.1:{self.port}"

    def take(self) -> list[Seen]:
        """What was seen since the last call, forgotten now."""
        with self.lock:
            taken, self.seen = self.seen, []
        return taken


def _handler(proxy: LatencyProxy) -> type[BaseHTTPRequestHandler]:
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with proxy.lock:
                proxy.seen.append(Seen(self.command, self.path, len(body)))
            time.sleep(proxy.delay)  # the round trip to the store
            upstream = getattr(local, "upstream", None)
            if upstream is None:
                upstream = local.upstream = http.client.HTTPConnection(proxy.upstream)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
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
    """A :class:`LatencyProxy` in front of ``upstream`` (``host:port``), stopped after."""
    proxy = LatencyProxy(upstream, delay)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
