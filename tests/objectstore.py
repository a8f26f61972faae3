"""A real S3 endpoint for tests: an emulator on loopback, and a fault-injecting proxy.

The emulator (moto's server, or LocalStack with ``STRICTURE_TEST_EMULATOR=localstack``) runs
once per test process (``emulator()``); each test makes its own bucket. :class:`FaultProxy`
sits between the server under test and the emulator and can answer what neither does:
``409 ConditionalRequestConflict``, R2's ``429`` on a second write to a key within a second,
``500``, silence, one byte a second, a reset in the middle of a body, no ``100 Continue``, or
no connection at all.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import http.client
import logging
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from stricture_server import Settings
from stricture_server.storage.s3 import S3Storage, open_object_storage

from .deliveries import HANG_SECONDS, ROOT, stop

# Emulators accept any credentials, but botocore must find some to sign with; never real ones.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

EMULATOR = os.environ.get("STRICTURE_TEST_EMULATOR", "moto")
"""The S3 emulator of this test process: ``moto`` (the default), or ``localstack``, a faithful
emulator that checks checksums (run by ``.ci/run``; installed by ``scripts/localstack``)."""

_endpoint = ""
_lock = threading.Lock()


def emulator() -> str:
    """The endpoint URL of this process's S3 emulator, started on first use."""
    global _endpoint
    with _lock:
        if not _endpoint:
            os.environ.update(FAKE_AWS)
            if EMULATOR == "localstack":
                _endpoint = _start_localstack()
            elif EMULATOR == "moto":
                # moto serves with werkzeug, which logs every request at info: a thousand lines
                # in the report of a failing listing test. Its warnings and errors still show.
                logging.getLogger("werkzeug").setLevel(logging.WARNING)
                _atomic_puts()
                server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
                server.start()
                host, port = server.get_host_and_port()
                _endpoint = f"http://{host}:{port}"
            else:
                raise RuntimeError(f"STRICTURE_TEST_EMULATOR={EMULATOR!r}: moto or localstack")
    return _endpoint


def _atomic_puts() -> None:
    """Make moto's PutObject atomic, as S3's and R2's are.

    moto checks ``If-None-Match: *`` and then stores, in two steps, on the threads of its
    server: two racing conditional creates of one key can both pass the check on a busy
    machine, which no real store allows. One lock around its PutObject handler closes that
    gap in the emulator; the drivers under test are untouched.
    """
    from moto.s3.responses import S3Response

    handler = S3Response.put_object
    if getattr(handler, "atomic", False):
        return
    lock = threading.Lock()

    def put_object(self: Any) -> Any:
        with lock:
            return handler(self)

    put_object.atomic = True  # type: ignore[attr-defined]
    S3Response.put_object = put_object  # type: ignore[method-assign]


def _start_localstack() -> str:
    """LocalStack's S3 on a free loopback port, stopped when the test process ends."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = tempfile.mkdtemp(prefix="stricture-localstack-")
    log = open(Path(state) / "localstack.log", "wb")  # noqa: SIM115 (lives with the process)
    process = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "localstack"), "run", str(port), state],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    atexit.register(_stop, process, log, state)
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):  # LocalStack starts in a few seconds; a loaded machine may need more
        if process.poll() is not None:
            raise RuntimeError(f"LocalStack exited; see {log.name}")
        with (
            suppress(OSError),
            urllib.request.urlopen(f"{url}/_localstack/health", timeout=5) as answer,
        ):
            if answer.status == 200:
                return url
        time.sleep(0.1)
    raise RuntimeError(f"LocalStack did not start; see {log.name}")


def _stop(process: subprocess.Popen[bytes], log: IO[bytes], state: str) -> None:
    stop(process)
    log.close()
    shutil.rmtree(state, ignore_errors=True)


def admin_client() -> Any:
    """A plain boto3 client on the emulator, to make buckets and look at what was stored."""
    return boto3.client("s3", endpoint_url=emulator(), config=Config(retries={"max_attempts": 1}))


def new_bucket() -> str:
    """A fresh, empty bucket."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    admin_client().create_bucket(Bucket=name)
    return name


COOLDOWN_SECONDS = 1
"""The tests' cool-down after repeated store failures: a store back up is asked again after it."""

GENEROUS_DEADLINE_SECONDS = 50
"""Just under the worker timeout (60 s), for tests that are not about the deadline."""


def object_env(driver: str, bucket: str, endpoint: str, **extra: str) -> dict[str, str]:
    """Settings variables for ``driver`` (s3, r2 or mirror) on ``bucket`` behind ``endpoint``."""
    env = {
        "STRICTURE_SERVER_STORAGE_DRIVER": driver,
        "STRICTURE_SERVER_OBJECT_BUCKET": bucket,
        "AWS_ENDPOINT_URL_S3": endpoint,
        # Generous: moto on a busy machine can take seconds to answer, and a timeout here
        # would fail a test that is not about timeouts. Tests of a hanging store set
        # SHORT_READ_TIMEOUT on the client that meets the hang, and only there; tests of the
        # deadline set their own.
        "STRICTURE_SERVER_OBJECT_CONNECT_TIMEOUT_SECONDS": str(HANG_SECONDS),
        "STRICTURE_SERVER_OBJECT_READ_TIMEOUT_SECONDS": str(HANG_SECONDS),
        "STRICTURE_SERVER_OBJECT_DEADLINE_SECONDS": str(GENEROUS_DEADLINE_SECONDS),
        "STRICTURE_SERVER_OBJECT_MAX_ATTEMPTS": "2",
        "STRICTURE_SERVER_OBJECT_COOLDOWN_SECONDS": str(COOLDOWN_SECONDS),
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
    return open_object_storage(settings, driver)


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


_EMPTY_TRUNCATED_PAGE = (
    b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>'
    b"<IsTruncated>true</IsTruncated><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
    b"</ListBucketResult>"
)

R2_WRITE_SECONDS = 1.0
"""R2 takes one write a second per key: https://developers.cloudflare.com/r2/platform/limits/"""


class FaultProxy:
    """An HTTP proxy in front of moto that can fail on demand.

    ``mode`` is ``pass`` (forward), ``conflict`` (answer conditional PUTs 409
    ConditionalRequestConflict, ``conflicts`` times, then forward), ``r2`` (forward, but answer
    429 to a PUT on a key that another PUT is writing or wrote within the last second, as R2
    does), ``error`` (answer 500), ``hang`` (hold the request without answering until
    :meth:`close`), ``slow`` (forward, then send the answer one byte every
    ``drip_seconds``), ``empty-page`` (answer every listing with no keys, marked truncated),
    ``corrupt`` (flip a bit of each request body on the way), ``reset`` (read half of a
    request's body, or send half of an answer's, then reset the connection) or ``down`` (the
    port refuses connections).

    ``continues`` False stops the proxy answering ``Expect: 100-continue`` (R2 never does).
    ``seen`` holds every request's method, path and headers (names in lower case). Like S3 and
    R2, and unlike moto, the proxy refuses a body whose ``x-amz-checksum-sha256`` is wrong.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.mode = "pass"
        self.conflicts = 0
        self.continues = True
        self.drip_seconds = 0.5
        self.requests: list[tuple[str, str]] = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.throttled = 0
        self._writes: dict[str, float] = {}
        self._writes_lock = threading.Lock()
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

        def handle_expect_100(self) -> bool:
            """Answer ``100 Continue``, unless the proxy plays a store that never does."""
            if proxy.continues:
                return super().handle_expect_100()
            return True

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            headers = {k.lower(): v for k, v in self.headers.items()}
            proxy.seen.append((self.command, self.path, headers))
            if proxy.mode == "reset" and length:
                self.rfile.read(length // 2)
                self._reset()
                return
            body = self.rfile.read(length) if length else b""
            proxy.requests.append((self.command, self.path))
            if proxy.mode == "corrupt" and body:
                body = bytes([body[0] ^ 1]) + body[1:]  # one bit flipped on the way
            claimed = self.headers.get("x-amz-checksum-sha256")
            if claimed and claimed != base64.b64encode(hashlib.sha256(body).digest()).decode():
                # What S3 and R2 answer, and moto does not: it stores the object anyway.
                self._answer(400, b"<Error><Code>BadDigest</Code></Error>")
                return
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
            if proxy.mode == "empty-page" and self.command == "GET" and "list-type=2" in self.path:
                # Seen from S3-compatible stores: no keys, and yet "truncated".
                self._answer(200, _EMPTY_TRUNCATED_PAGE)
                return
            if proxy.mode == "r2" and self.command == "PUT":
                self._write_once_a_second(body)
                return
            self._relay(body)

        def _write_once_a_second(self, body: bytes) -> None:
            key = self.path.split("?", 1)[0]
            with proxy._writes_lock:
                last = proxy._writes.get(key, float("-inf"))
                if time.monotonic() - last < R2_WRITE_SECONDS:
                    proxy.throttled += 1
                    busy = True
                else:
                    # In flight counts as written now: a concurrent write is refused too.
                    proxy._writes[key] = time.monotonic()
                    busy = False
            if busy:
                self._answer(429, b"<Error><Code>TooManyRequests</Code></Error>")
                return
            if self._relay(body) != 200:
                with proxy._writes_lock:
                    # Refused (412): nothing was written.
                    proxy._writes[key] = last
            else:
                with proxy._writes_lock:
                    proxy._writes[key] = time.monotonic()

        def _relay(self, body: bytes) -> int:
            upstream = http.client.HTTPConnection(proxy.upstream, timeout=HANG_SECONDS)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                head = [f"HTTP/1.1 {response.status} {response.reason}"]
                head += [
                    f"{name}: {value}"
                    for name, value in response.getheaders()
                    if name.lower() not in _HOP_BY_HOP
                ]
                head.append(f"Content-Length: {len(data)}")
                raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
                if self.command != "HEAD":
                    raw += data
                self._send(raw, len(raw) - len(data))
                return response.status
            finally:
                upstream.close()

        def _send(self, raw: bytes, head_length: int) -> None:
            if proxy.mode == "slow":
                for n in range(len(raw)):
                    if proxy.released.wait(proxy.drip_seconds):
                        break
                    self.wfile.write(raw[n : n + 1])
                    self.wfile.flush()
                self.close_connection = True
            elif proxy.mode == "reset" and len(raw) > head_length:
                self.wfile.write(raw[: head_length + (len(raw) - head_length) // 2])
                self.wfile.flush()
                self._reset()
            else:
                self.wfile.write(raw)

        def _reset(self) -> None:
            # SO_LINGER 0: close() sends RST, as a store that drops the connection does.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

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
    """A :class:`FaultProxy` in front of the emulator, closed after."""
    proxy = FaultProxy(emulator())
    try:
        yield proxy
    finally:
        proxy.close()
