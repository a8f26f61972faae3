"""Ways a request reaches the app. The conformance suite runs every case through each.

A delivery sends raw bytes with raw headers and gives back status, headers and body; it knows
nothing of the cases. A :class:`Deployment` is one configured app (environment variables) and
a reader of the store it writes to, so tests can check the canonical key.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
from werkzeug.datastructures import Headers
from werkzeug.test import Client

from stricture_server import Settings, create_app
from stricture_server.storage import Storage, open_storage

from .process_log import ProcessLog, process_log

ROOT = Path(__file__).resolve().parents[1]

READY_SECONDS = 120
"""How long a process the tests start may take to be ready: a cold start on a loaded machine."""
HANG_SECONDS = 120
"""How long a test waits on something that takes milliseconds before it calls it a hang.
Generous on purpose: a busy machine must never trip it; only a real hang does."""


@dataclass(frozen=True)
class Reply:
    """What came back."""

    status: int
    headers: Headers
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return orjson.loads(self.body)


class PlatformRefused(Exception):
    """The platform answers this request itself; the app never sees it (a declared limit)."""


class Delivery(Protocol):
    """Sends one HTTP request to a running app."""

    name: str
    max_body_bytes: int | None
    """The largest request body the runtime itself lets through (None: no platform limit)."""

    def send(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> Reply:
        """Send the request; ``path`` may carry a query string."""


@dataclass
class Deployment:
    """One configured app: its environment, a delivery to it, and its store."""

    env: dict[str, str]
    delivery: Delivery
    storage: Storage = field(init=False)

    def __post_init__(self) -> None:
        self.storage = open_storage(Settings.from_env(self.env))

    @property
    def prefix(self) -> str:
        """The object key prefix the app writes under."""
        return Settings.from_env(self.env).object_prefix


class WsgiDelivery:
    """The app called in-process through werkzeug's WSGI test client."""

    name = "wsgi"
    max_body_bytes: int | None = None

    def __init__(self, env: Mapping[str, str]) -> None:
        self.client = Client(create_app(Settings.from_env(env)))

    def send(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> Reply:
        """Call the WSGI app."""
        response = self.client.open(path, method=method, headers=dict(headers), data=body)
        return Reply(response.status_code, Headers(response.headers), response.get_data())


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_send(
    port: int, method: str, path: str, headers: Mapping[str, str], body: bytes = b""
) -> Reply:
    """One request over a real socket, with exactly the given headers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_SECONDS)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        names = {k.lower() for k in headers}
        for name, value in headers.items():
            connection.putheader(name, value)
        if "content-length" not in names and "transfer-encoding" not in names:
            connection.putheader("Content-Length", str(len(body)))
        # The server may answer (413) and close before reading a large body, as HTTP allows;
        # its answer is still waiting in the socket.
        with suppress(BrokenPipeError, ConnectionResetError):
            connection.endheaders(body or None)
        response = connection.getresponse()
        data = response.read()
        return Reply(response.status, Headers(response.getheaders()), data)
    finally:
        connection.close()


def wait_for_health(port: int, process: subprocess.Popen[bytes], log: ProcessLog) -> None:
    """Block until ``GET /healthz`` answers 200, or fail with the end of the process output."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.report()}")
        try:
            if http_send(port, "GET", "/healthz", {}).status == 200:
                return
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)
    raise RuntimeError(f"server did not answer GET /healthz in {READY_SECONDS} s:\n{log.report()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if the process is still there after :data:`HANG_SECONDS`."""
    process.terminate()
    try:
        process.wait(timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL gunicorn's workers and its master, as a crash or an OOM kill would."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    for pid in [*map(int, children), process.pid]:
        os.kill(pid, signal.SIGKILL)
    process.wait()


@contextmanager
def server_process(
    env: Mapping[str, str], command: list[str] | None = None, log: Path | None = None
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """The real ``stricture-server`` process on a loopback port, stopped with SIGTERM after.

    ``command`` replaces the default command line; ``{port}`` in it is the chosen port. The
    process output goes to ``log``, or to a file of its own (:mod:`tests.process_log`).
    """
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STRICTURE_SERVER_")}
    full_env.update(env)
    full_env["STRICTURE_SERVER_ADDR"] = f"127.0.0.1:{port}"
    full_env.setdefault("STRICTURE_SERVER_WORKERS", "2")
    default = [sys.executable, "-m", "stricture_server", "serve"]
    argv = [part.format(port=port) for part in command or default]
    name = Path(argv[2] if argv[1] == "-m" else argv[0]).name
    with process_log(f"{name}-{port}", log) as output:
        process = subprocess.Popen(
            argv, env=full_env, cwd=ROOT, stdout=output.file, stderr=subprocess.STDOUT
        )
        try:
            wait_for_health(port, process, output)
            yield port, process
        finally:
            stop(process)


class GunicornDelivery:
    """The real ``stricture-server`` gunicorn process, over HTTP on loopback."""

    name = "gunicorn"
    max_body_bytes: int | None = None

    def __init__(self, port: int) -> None:
        self.port = port

    def send(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> Reply:
        """Send over a socket."""
        return http_send(self.port, method, path, headers, body)
