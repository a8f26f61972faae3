"""A real S3 endpoint for tests: moto's server on loopback, and a fault-injecting proxy.

The moto server runs once per test process (``moto()``); each test makes its own bucket.
:class:`FaultProxy` sits between the server under test and moto and can answer what moto
never does: ``409 ConditionalRequestConflict``, ``500``, a hang, or no connection at all.
"""

from __future__ import annotations

import http.client
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from stricture_server import Settings
from stricture_server.storage.s3 import S3Storage, make_client

from .deliveries import HANG_SECONDS

# moto accepts any credentials, but botocore must find some to sign with; never real ones.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

_server: ThreadedMotoServer | None = None
_lock = threading.Lock()


def moto() -> str:
    """The endpoint URL of this process's moto server, started on first use."""
    global _server
    with _lock:
        if _server is None:
            os.environ.update(FAKE_AWS)
            # moto serves with werkzeug, which logs every request at info: a thousand lines in
            # the report of a failing listing test. Its warnings and errors still show.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            _server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            _server.start()
        host, port = _server.get_host_and_port()
    return f"http://{host}:{port}"


def admin_client() -> Any:
    """A plain boto3 client on moto itself, to make buckets and look at what was stored."""
    return boto3.client("s3", endpoint_url=moto(), config=Config(retries={"max_attempts": 1}))


def new_bucket() -> str:
    """A fresh, empty bucket."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    admin_client().create_bucket(Bucket=name)
    return name


def object_env(driver: str, bucket: str, endpoint: str, **extra: str) -> dict[str, str]:
    """Settings variables for ``driver`` (s3, r2 or mirror) on ``bucket`` behind ``endpoint``."""
    env = {
        "STRICTURE_SERVER_STORAGE_DRIVER": driver,
        "STRICTURE_SERVER_OBJECT_BUCKET": bucket,
        "AWS_ENDPOINT_URL_S3": endpoint,
        # Generous: moto on a busy machine can take seconds to answer, and a timeout here
        # would fail a test that is not about timeouts. Tests of a hanging store set
        # SHORT_READ_TIMEOUT on the client that meets the hang, and only there.
        "STRICTURE_SERVER_OBJECT_CONNECT_TIMEOUT_SECONDS": str(HANG_SECONDS),
        "STRICTURE_SERVER_OBJECT_READ_TIMEOUT_SECONDS": str(HANG_SECONDS),
        "STRICTURE_SERVER_OBJECT_MAX_ATTEMPTS": "2",
    }
    if driver == "r2":
        # As configured for Cloudflare; the endpoint variable points it at moto instead.
        env["STRICTURE_SERVER_R2_ACCOUNT_ID"] = "0123456789abcdef0123456789abcdef"
    env.update(extra)
    return env


SHORT_READ_TIMEOUT = {"STRICTURE_SERVER_OBJECT_READ_TIMEOUT_SECONDS": "1"}
"""For a client that only ever meets a hanging store: the read timeout is what ends the hang."""


def s3_storage(driver: str, bucket: str, endpoint: str, **extra: str) -> S3Storage:
    """The ``s3`` or ``r2`` driver, built from settings as the server builds it."""
    settings = Settings.from_env(object_env(driver, bucket, endpoint, **extra))
    return S3Storage(make_client(settings, driver), bucket)


def stored(bucket: str) -> dict[str, bytes]:
    """Every object in ``bucket``, read straight from moto."""
    client = admin_client()
    keys = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", ())
    ]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class FaultProxy:
    """An HTTP proxy in front of moto that can fail on demand.

    ``mode`` is ``pass`` (forward), ``conflict`` (answer conditional PUTs 409
    ConditionalRequestConflict, ``conflicts`` times, then forward), ``error`` (answer 500),
    ``hang`` (hold the request without answering until :meth:`close`), or
    ``down`` (the port refuses connections).
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.mode = "pass"
        self.conflicts = 0
        self.requests: list[tuple[str, str]] = []
        self.released = threading.Event()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.up()

    @property
    def url(self) -> str:
        """The proxy's endpoint URL."""
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        """Listen (again, on the same port) and forward."""
        self.mode = "pass"
        if self._server is None:
            server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
            server.daemon_threads = True
            self.port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever, daemon=True)
            self._thread.start()

    def down(self) -> None:
        """Stop listening: connections are refused until :meth:`up`."""
        self.mode = "down"
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        """Release hanging requests and stop."""
        self.released.set()
        self.down()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            proxy.requests.append((self.command, self.path))
            if proxy.mode == "down":
                # A kept-alive connection opened before `down`: drop it unanswered.
                self.close_connection = True
                return
            if proxy.mode == "hang":
                # Bounded only so that a client without a read timeout fails the test
                # (it sees a closed connection, not a timeout) instead of hanging it.
                proxy.released.wait(HANG_SECONDS)
                self.close_connection = True
                return
            if proxy.mode == "error":
                self._answer(500, b"<Error><Code>InternalError</Code></Error>")
                return
            if proxy.mode == "conflict" and proxy.conflicts and self.headers["If-None-Match"]:
                proxy.conflicts -= 1
                self._answer(409, b"<Error><Code>ConditionalRequestConflict</Code></Error>")
                return
            self._relay(body)

        def _relay(self, body: bytes) -> None:
            upstream = http.client.HTTPConnection(proxy.upstream, timeout=HANG_SECONDS)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            finally:
                upstream.close()

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    return Handler


@contextmanager
def fault_proxy() -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` in front of moto, closed after."""
    proxy = FaultProxy(moto())
    try:
        yield proxy
    finally:
        proxy.close()
