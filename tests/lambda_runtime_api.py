"""A local Lambda Runtime API on loopback, so the real runtime client runs the handler as on AWS.

It serves the four calls the runtime interface client makes:
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
``GET /invocation/next`` blocks until :meth:`RuntimeApi.invoke` queues an event; the client
then posts the handler's result to ``/invocation/<id>/response`` (or ``/error``).
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from .deliveries import HANG_SECONDS

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:stricture-server"


class InvocationFailed(Exception):
    """The handler raised, or the runtime failed to start; the message is the runtime's report."""


class RuntimeApi:
    """The Runtime API server; :meth:`invoke` sends one event and waits for the result."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.results: dict[str, Future[bytes]] = {}
        self.closing = threading.Event()
        self.init_error: bytes | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.api = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def __enter__(self) -> RuntimeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def invoke(self, event: Any, timeout: float = HANG_SECONDS) -> Any:
        """Invoke the function once, as a synchronous invocation, and return its result."""
        request_id = str(uuid.uuid4())
        result: Future[bytes] = Future()
        self.results[request_id] = result
        self.events.put((request_id, orjson.dumps(event)))
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.init_error is not None:
                    raise InvocationFailed(self.init_error.decode(errors="replace"))
                try:
                    return orjson.loads(result.result(0.05))
                except TimeoutError:
                    continue
            raise InvocationFailed(f"no result within {timeout} s")
        finally:
            del self.results[request_id]


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, as the runtime client's HTTP client expects; every answer has a length.
    protocol_version = "HTTP/1.1"

    @property
    def api(self) -> RuntimeApi:
        api: RuntimeApi = self.server.api  # type: ignore[attr-defined]
        return api

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read results, not access logs."""

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            self._answer(404, b'{"errorType":"NotFound"}')
            return
        while not self.api.closing.is_set():
            try:
                request_id, event = self.api.events.get(timeout=0.1)
            except queue.Empty:
                continue
            deadline_ms = int((time.time() + HANG_SECONDS) * 1000)
            trace = f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"
            self._answer(
                200,
                event,
                {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": trace,
                },
            )
            return
        self.close_connection = True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        parts = self.path.removeprefix(PREFIX).strip("/").split("/")
        if parts == ["init", "error"]:
            self.api.init_error = body
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            result = self.api.results.get(parts[1])
            if result is None:
                self._answer(400, b'{"errorType":"InvalidRequestID"}')
                return
            if parts[2] == "response":
                result.set_result(body)
            else:
                result.set_exception(InvocationFailed(body.decode(errors="replace")))
        else:
            self._answer(404, b'{"errorType":"NotFound"}')
            return
        self._answer(202, b'{"status":"OK"}')

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
