"""Slow and idle clients against the real process: they never hold a request slot.

The server here has one worker with one thread: one request slot in all. If a stalled
connection held it, no other client would be answered. Nothing below depends on how fast the
machine is: the deadlines that must not fire are far away, and the ones that must fire are
waited for without a bound of their own (only a generous one against a hang).
"""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import orjson
import pytest

from . import factory
from .deliveries import http_send, server_process
from .test_process import children

JSON = {"Content-Type": "application/json"}
IDLE = 2000
SLOW = 100
HANG = 120.0
"""How long a test waits before calling the server hung: never reached by a working server."""

pytestmark = pytest.mark.slow


def _one_slot(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "STRICTURE_SERVER_DATA_DIR": str(data_dir),
        "STRICTURE_SERVER_WORKERS": "1",
        "STRICTURE_SERVER_THREADS": "1",
        "STRICTURE_SERVER_MAX_CONNECTIONS": str(IDLE + SLOW + 100),
        **extra,
    }


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@contextmanager
def _connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 500), hard))
    with ExitStack() as stack:
        socks = []
        for _ in range(count):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=HANG))
            socks.append(sock)
        yield socks


def _still_open(sock: socket.socket) -> bool:
    """True while the server has neither answered nor closed ``sock``."""
    sock.setblocking(False)
    try:
        return not sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends on ``sock`` until it closes it."""
    sock.settimeout(HANG)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_slow_and_idle_clients_do_not_hold_the_only_request_slot(tmp_path: Path) -> None:
    env = _one_slot(tmp_path, STRICTURE_SERVER_HEADER_TIMEOUT_SECONDS="3600")
    with server_process(env) as (port, process):
        (worker,) = children(process.pid)
        before = _rss_kib(worker)
        with _connections(port, IDLE) as idle, _connections(port, SLOW) as slow:
            for sock in slow:
                sock.sendall(b"POST /v1/artifacts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            for _ in range(3):
                for sock in slow:
                    sock.sendall(b"a")
            health = http_send(port, "GET", "/healthz", {})
            body = orjson.dumps(factory.envelope(artifact=factory.artifact(fields=300)))
            assert len(body) > 100_000
            ingest = http_send(port, "POST", "/v1/artifacts", JSON, body)
            for sock in slow:
                sock.sendall(b"a")
            assert health.status == 200
            assert ingest.status == 202, ingest.body
            # They were answered while every stalled connection was still held open.
            assert all(_still_open(sock) for sock in idle + slow)
            grown = _rss_kib(worker) - before
        # 2,100 held connections cost the worker little memory.
        assert grown < 64 * 1024, f"worker grew by {grown} KiB"
        assert http_send(port, "GET", f"{ingest.json()['location']}", {}).status == 200


def test_a_head_sent_one_byte_at_a_time_gets_408_at_its_total_deadline(tmp_path: Path) -> None:
    env = _one_slot(tmp_path, STRICTURE_SERVER_HEADER_TIMEOUT_SECONDS="1")
    with server_process(env) as (port, _), _connections(port, 2) as (dribbling, idle):
        dribbling.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        # A byte every 50 ms: a per-read timeout would never fire; the total deadline does.
        hang = time.monotonic() + HANG
        sent = 0
        while _still_open(dribbling):
            assert time.monotonic() < hang, "the server never closed the slow head"
            try:
                dribbling.sendall(b"a")
            except OSError:
                break
            sent += 1
            time.sleep(0.05)
        answer = _answer(dribbling)
        assert sent > 1
        assert answer.startswith(b"HTTP/1.1 408 ")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"Content-Type: application/json" in head
        assert orjson.loads(body)["error"] == "request timeout"
        assert "within 1 s" in orjson.loads(body)["detail"]
        silent = _answer(idle)
        assert silent.startswith(b"HTTP/1.1 408 ")
        assert orjson.loads(silent.partition(b"\r\n\r\n")[2]) == {
            "error": "request timeout",
            "detail": "no request was received in time",
        }
        # The slot was never taken: the next client is served.
        assert http_send(port, "GET", "/healthz", {}).status == 200


def test_an_endless_head_is_431_without_waiting_for_its_end(tmp_path: Path) -> None:
    with server_process(_one_slot(tmp_path)) as (port, _), _connections(port, 1) as (sock,):
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        for _ in range(66):
            sock.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert b"larger than 65536 bytes" in answer
        assert http_send(port, "GET", "/healthz", {}).status == 200


def test_kept_alive_and_pipelined_requests_are_served_in_order(tmp_path: Path) -> None:
    with server_process(_one_slot(tmp_path)) as (port, _), _connections(port, 1) as (sock,):
        request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: r%d\r\n\r\n"
        # Two requests in one write, then a third split mid-head.
        sock.sendall(request % 1 + request % 2 + (request % 3)[:20])
        sock.sendall((request % 3)[20:].replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        answer = _answer(sock)
        assert answer.count(b"HTTP/1.1 200 OK") == 3
        ids = [answer.index(b"X-Request-Id: r%d" % n) for n in (1, 2, 3)]
        assert ids == sorted(ids)


def _sockets_held(pid: int) -> int:
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed while we looked
            held += str(fd.readlink()).startswith("socket:")
    return held


def test_clients_slow_to_close_after_their_answer_do_not_stall_the_others(tmp_path: Path) -> None:
    # Each client asks for the connection to be closed, reads its answer, then keeps its end
    # open. Waiting in the event loop for each one to close (two seconds apiece) would delay
    # everybody else by minutes: every answer must end at once, and the server must still let
    # go of every connection on its own.
    count = 100
    with server_process(_one_slot(tmp_path)) as (port, process):
        (worker,) = children(process.pid)
        held_before = _sockets_held(worker)
        with _connections(port, count) as socks:
            for number, sock in enumerate(socks):
                # Every other one is answered by the event loop itself, the others by a thread.
                path = "/healthz" if number % 2 else "/v1/runs/org/project/service/nope"
                sock.sendall(b"GET %s HTTP/1.1\r\nConnection: close\r\n\r\n" % path.encode())
            hang = time.monotonic() + HANG
            for sock in socks:
                sock.settimeout(max(hang - time.monotonic(), 0.001))
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
                assert answer.startswith((b"HTTP/1.1 200 ", b"HTTP/1.1 404 ")), answer[:100]
            assert http_send(port, "GET", "/healthz", {}).status == 200
            while _sockets_held(worker) > held_before:
                assert time.monotonic() < hang, "the server never closed the lingering clients"
                time.sleep(0.1)
