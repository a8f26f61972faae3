"""The real ``stricture-server`` process: start-up checks, logs, shutdown, concurrent writers."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from . import factory
from .commands import run_command
from .deliveries import HANG_SECONDS, http_send, server_process

TOKEN = "process-token-abcdef"
JSON = {"Content-Type": "application/json"}


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (the gunicorn workers of a master)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_bad_configuration_stops_with_one_line_and_no_traceback() -> None:
    result = run_command(
        {"STRICTURE_SERVER_AUTH_MODE": "tokn", "STRICTURE_SERVER_INGEST_TOKEN": "s3cr3t"}, "serve"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "stricture-server: configuration error: STRICTURE_SERVER_AUTH_MODE='tokn': "
        "expected one of none, token, policy"
    ]
    assert "s3cr3t" not in result.stderr + result.stdout


def test_unusable_data_dir_stops_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_command({"STRICTURE_SERVER_DATA_DIR": str(blocker / "data")})
    assert result.returncode == 2
    assert "STRICTURE_SERVER_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_logs_are_json_lines_without_secrets_or_bodies(tmp_path: Path) -> None:
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path / "data"),
        "STRICTURE_SERVER_INGEST_TOKEN": TOKEN,
    }
    document = factory.envelope(run_id="logged", summary="BODY-MARKER-123")
    log = tmp_path / "server.log"
    with server_process(env, log=log) as (port, process):
        auth = {"Authorization": f"Bearer {TOKEN}", "X-Request-Id": "req-42", **JSON}
        assert http_send(port, "POST", "/v1/artifacts", auth, orjson.dumps(document)).status == 202
        wrong = {"Authorization": "Bearer wrong-token-value", **JSON}
        assert http_send(port, "POST", "/v1/artifacts", wrong, orjson.dumps(document)).status == 401
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=HANG_SECONDS)
    assert process.returncode == 0
    text = log.read_text()
    assert TOKEN not in text
    assert "wrong-token-value" not in text
    assert "BODY-MARKER-123" not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests = [line for line in lines if line["logger"] == "stricture_server.request"]
    ingest = next(line for line in requests if line["request_id"] == "req-42")
    assert ingest["status"] == 202
    assert ingest["run_id"] == "logged"
    assert ingest["organization"] == document["organization"]
    assert ingest["duration_ms"] >= 0
    refused = next(line for line in requests if line["status"] == 401)
    assert refused["reason"] == "the bearer token is not valid"
    assert any(line["logger"] == "gunicorn.error" for line in lines)


def test_sigterm_lets_an_in_flight_ingest_finish(tmp_path: Path) -> None:
    body = orjson.dumps(factory.envelope(run_id="in-flight"))
    data = tmp_path / "data"
    env = {"STRICTURE_SERVER_DATA_DIR": str(data), "STRICTURE_SERVER_WORKERS": "1"}
    head = (
        "POST /v1/artifacts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    )
    log = tmp_path / "server.log"
    with server_process(env, log=log) as (port, process):
        with socket.create_connection(("127.0.0.1", port), timeout=HANG_SECONDS) as sock:
            sock.sendall(head.encode() + body[:100])
            answer = sock.makefile("rb")
            # The worker answers 100 Continue as it starts the request: it is now in flight.
            assert answer.readline() == b"HTTP/1.1 100 Continue\r\n"
            assert answer.readline() == b"\r\n"
            process.send_signal(signal.SIGTERM)
            wait_for_line(log, "Handling signal: term")
            sock.sendall(body[100:])
            status_line = answer.readline()
        assert status_line.split()[1] == b"202", status_line
        process.wait(timeout=HANG_SECONDS)
    assert process.returncode == 0
    assert len(list(data.rglob("payload.json"))) == 1


def wait_for_line(log: Path, text: str) -> None:
    """Block until ``text`` shows in the process log."""
    deadline = time.monotonic() + HANG_SECONDS
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"{text!r} not in {log} after {HANG_SECONDS} s"
        time.sleep(0.05)


@pytest.mark.parametrize("worker", [[], ["-k", "stricture_server.serving.worker.DeadlineWorker"]])
def test_own_gunicorn_can_serve_the_wsgi_module(tmp_path: Path, worker: list[str]) -> None:
    gunicorn = [sys.executable, "-m", "gunicorn", *worker, "-w", "1", "-b", "127.0.0.1:{port}"]
    env = {"STRICTURE_SERVER_DATA_DIR": str(tmp_path)}
    with server_process(env, [*gunicorn, "stricture_server.wsgi:app"]) as (port, _):
        reply = http_send(port, "POST", "/v1/artifacts", JSON, orjson.dumps(factory.envelope()))
        assert reply.status == 202
        if worker:
            # The documented worker reads heads in its event loop: an idle client gets 408.
            with socket.create_connection(("127.0.0.1", port), timeout=120) as idle:
                assert idle.makefile("rb").read().startswith(b"HTTP/1.1 408 ")


def test_racing_writers_through_the_process(tmp_path: Path) -> None:
    env = {"STRICTURE_SERVER_DATA_DIR": str(tmp_path), "STRICTURE_SERVER_WORKERS": "4"}
    base = factory.envelope(run_id="contended")
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def send(port: int, document: dict[str, object]) -> None:
        barrier.wait()
        statuses.append(
            http_send(port, "POST", "/v1/artifacts", JSON, orjson.dumps(document)).status
        )

    with server_process(env) as (port, _):
        threads = [
            threading.Thread(target=send, args=(port, {**base, "summary": f"writer {n}"}))
            for n in range(20)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [202] + [409] * 19

        statuses.clear()
        barrier.reset()
        others = [factory.envelope(organization=base["organization"]) for _ in range(20)]
        threads = [threading.Thread(target=send, args=(port, doc)) for doc in others]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [202] * 20
    records = list(tmp_path.rglob("payload.json"))
    assert len(records) == 21


def test_chunked_uploads_are_read_and_capped(tmp_path: Path) -> None:
    env = {"STRICTURE_SERVER_DATA_DIR": str(tmp_path), "STRICTURE_SERVER_MAX_BODY_BYTES": "100000"}
    body = orjson.dumps(factory.envelope(run_id="chunked"))

    def chunks(data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]

    with server_process(env) as (port, _):
        for data, status in ((body, 202), (b" " * 100_001, 413)):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_SECONDS)
            connection.request("POST", "/v1/artifacts", chunks(data), JSON, encode_chunked=True)
            assert connection.getresponse().status == status
            connection.close()


def test_kill_9_mid_ingest_loses_no_acknowledged_run_and_leaves_no_partial_record(
    tmp_path: Path,
) -> None:
    env = {"STRICTURE_SERVER_DATA_DIR": str(tmp_path), "STRICTURE_SERVER_WORKERS": "3"}
    organization = factory.unique("org")
    acknowledged: list[str] = []

    def send(port: int, n: int) -> None:
        document = factory.envelope(
            organization=organization, run_id=f"run-{n}", artifact=factory.artifact(200)
        )
        try:
            reply = http_send(port, "POST", "/v1/artifacts", JSON, orjson.dumps(document))
        except (OSError, http.client.HTTPException):
            return  # the connection died with the server, perhaps mid-answer: not acknowledged
        if reply.status == 202:
            acknowledged.append(reply.json()["run_id"])

    with server_process(env) as (port, process):
        threads = [threading.Thread(target=send, args=(port, n)) for n in range(60)]
        for thread in threads:
            thread.start()
        # Until ten runs are acknowledged; a server that acknowledges none ends the wait too.
        while len(acknowledged) < 10 and any(thread.is_alive() for thread in threads):
            time.sleep(0.01)
        assert len(acknowledged) >= 10, "the server acknowledged fewer than 10 of 60 runs"
        for pid in [process.pid, *children(process.pid)]:
            os.kill(pid, signal.SIGKILL)
        for thread in threads:
            thread.join()
    stored = {p.parent.name.removeprefix("run="): p for p in tmp_path.rglob("payload.json")}
    assert set(acknowledged) <= set(stored)
    for path in stored.values():
        record = orjson.loads(path.read_bytes())  # every file present is whole
        assert record["organization"] == organization


def test_truncated_and_stalled_bodies_are_refused_and_the_worker_carries_on(
    tmp_path: Path,
) -> None:
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path),
        "STRICTURE_SERVER_WORKERS": "1",
        # The silent client is what this short read timeout is for. The worker timeout stays
        # at its generous default: a busy machine must not get the worker replaced meanwhile.
        "STRICTURE_SERVER_READ_TIMEOUT_SECONDS": "1",
    }
    whole = orjson.dumps(factory.envelope(run_id="whole"))
    head = f"POST /v1/artifacts HTTP/1.1\r\nHost: x\r\nContent-Length: {len(whole) + 50}\r\n\r\n"
    with server_process(env) as (port, _):
        for close_early in (True, False):
            with socket.create_connection(("127.0.0.1", port), timeout=HANG_SECONDS) as sock:
                # A complete JSON document, but 50 bytes short of the declared length; then
                # the client either closes its side or goes silent.
                sock.sendall(head.encode() + whole)
                if close_early:
                    sock.shutdown(socket.SHUT_WR)
                answer = sock.makefile("rb").read()
            status_line, _, rest = answer.partition(b"\r\n")
            body = orjson.loads(rest.partition(b"\r\n\r\n")[2])
            if close_early:
                assert status_line.split()[1] == b"400", answer[:300]
                assert body["error"] == "the request body was not received in full"
            else:
                assert status_line.split()[1] == b"408", answer[:300]
                assert body["error"] == "request timeout"
            # Read to the end: the server closed the connection after answering.
        assert http_send(port, "POST", "/v1/artifacts", JSON, whole).status == 202
    assert len(list(tmp_path.rglob("payload.json"))) == 1


# Malformed or hostile HTTP: (raw request, status, start of the error). gunicorn's parser
# refuses the first ones before the app sees them.
REFUSED = "malformed HTTP request: "
UNREADABLE = "the request body could not be read"
POST = b"POST /v1/artifacts HTTP/1.1\r\nHost: x\r\n"
MALFORMED_HTTP = [
    (b"GARBAGE\r\n\r\n", 400, REFUSED),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400, REFUSED),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Ctl: a\x01b\r\n\r\n", 400, REFUSED),
    (b"GET /" + b"a" * 8000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, REFUSED),
    (b"GET /healthz HTTP/1.1\r\n" + b"X-Many: y\r\n" * 120 + b"\r\n", 431, REFUSED),
    (POST + b"Content-Length: abc\r\n\r\n{}", 400, REFUSED),
    (POST + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400, REFUSED),
    (POST + b"Transfer-Encoding: gzip\r\n\r\n", 400, REFUSED),
    (
        POST + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        400,
        REFUSED,
    ),
    (POST + b"Expect: teapot\r\nContent-Length: 2\r\n\r\n{}", 417, REFUSED),
    (POST + b"Content-Length: -1\r\n\r\n{}", 400, REFUSED),
    (b"GET /healthz\r\n\r\n", 400, REFUSED),
    (b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 400, REFUSED),
    (b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, REFUSED),
    ("GET /v1/artifacts/ä/b/c/d HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 400, REFUSED),
    # These reach the app, which answers them (a bad chunk surfaces as the app reads the body).
    (POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400, UNREADABLE),
    (POST + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", 400, UNREADABLE),
    (b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method not allowed"),
    (b"GET /v1/artifacts/%ff%fe/b/c/d HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid identity"),
    (POST + b"Content-Length: 99999999999999999999\r\n\r\n{}", 413, "request body is over"),
    (
        POST + b"Transfer-Encoding: chunked\r\n\r\nfffffffffff\r\n{}\r\n0\r\n\r\n",
        400,
        "the request body was not received in full",
    ),
    (
        POST + b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        400,
        "the gzip body is corrupt",
    ),
]


def test_malformed_http_gets_json_errors(tmp_path: Path) -> None:
    env = {"STRICTURE_SERVER_DATA_DIR": str(tmp_path), "STRICTURE_SERVER_WORKERS": "1"}
    with server_process(env) as (port, _):
        for raw, status, error in MALFORMED_HTTP:
            with socket.create_connection(("127.0.0.1", port), timeout=HANG_SECONDS) as sock:
                sock.sendall(raw)
                sock.shutdown(socket.SHUT_WR)  # nothing more is coming
                answer = sock.makefile("rb").read()
            head, _, body = answer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:])
            assert lines[0].split(" ", 2)[1] == str(status), answer[:300]
            assert headers["Content-Type"] == "application/json", answer[:300]
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert int(headers["Content-Length"]) == len(body)
            assert orjson.loads(body)["error"].startswith(error), body
        # The worker carries on, and nothing was stored.
        assert http_send(port, "GET", "/healthz", {}).status == 200
    assert not list(tmp_path.rglob("*.json"))
