"""The two servers under load, started the same way: gunicorn, sync workers, loopback.

``floor`` is ``gunicorn floor:app``; ``stricture`` is ``stricture-server serve`` (fs driver).
Both get the same worker count. Worker CPU time and memory are read from ``/proc``.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = ROOT / ".venv" / "bin"
MAX_BODY = 16 * 1024 * 1024


@dataclass
class Server:
    """A running server: its name, port, master process and data directory."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path

    def workers(self) -> list[int]:
        """The worker pids (the master's children)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(c) for c in children]


def cpu_ns(pid: int) -> int:
    """Nanoseconds the process has run on a CPU (``/proc/<pid>/schedstat``, all threads)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of ``/proc/<pid>/status`` in KiB (VmRSS, VmHWM...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> None:
    """Reset the process's peak RSS (VmHWM) to its current RSS (Linux ``clear_refs`` 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(
    port: int, process: subprocess.Popen[bytes], log: Path, path: str = "/healthz"
) -> None:
    """Wait until ``GET path`` on ``port`` answers; exit naming the log if it never does."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"benchmarks: server exited: {log.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"benchmarks: server did not start: {log.read_text()[-2000:]}")


REFERENCES = ("floor", "mandated")
"""The reference apps (``floor.py``, ``mandated.py``), served by plain gunicorn."""

SYNC = "stricture-sync"
"""stricture-server's app under gunicorn's sync worker: the baseline of the worker change."""


@contextmanager
def start(
    name: str,
    work: Path,
    workers: int,
    settings: dict[str, str] | None = None,
    *,
    threads: int | None = None,
) -> Iterator[Server]:
    """Start ``floor`` or ``stricture`` with ``workers`` sync workers; stop it after.

    ``settings`` adds or overrides ``STRICTURE_SERVER_*`` variables of ``stricture``. With
    ``threads``, a reference runs under stricture-server's own worker class with that many
    threads per worker, as ``stricture`` does, instead of gunicorn's sync worker.
    """
    port = free_port()
    data = work / f"data-{name}-{port}"
    data.mkdir(parents=True)
    log = work / f"{name}-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRICTURE_SERVER_")}
    if name in REFERENCES:
        env["FLOOR_DATA_DIR"] = str(data)
        command = [
            str(VENV / "gunicorn"),
            "--chdir",
            str(HERE),
            "--workers",
            str(workers),
            "--worker-class",
            "sync" if threads is None else "stricture_server.serving.worker.DeadlineWorker",
            *(() if threads is None else ("--threads", str(threads))),
            "--bind",
            f"127.0.0.1:{port}",
            f"{name}:app",
        ]
    else:
        env.update(
            STRICTURE_SERVER_ADDR=f"127.0.0.1:{port}",
            STRICTURE_SERVER_STORAGE_DRIVER="fs",
            STRICTURE_SERVER_DATA_DIR=str(data),
            STRICTURE_SERVER_WORKERS=str(workers),
            STRICTURE_SERVER_MAX_BODY_BYTES=str(MAX_BODY),
        )
        env.update(settings or {})
        command = [str(VENV / "stricture-server"), "serve"]
        if name == SYNC:
            # The same app under gunicorn's sync worker, as served before the deadline worker.
            command = [str(VENV / "gunicorn"), "-k", "sync", "-w", str(workers)]
            command += ["-b", f"127.0.0.1:{port}", "stricture_server.wsgi:app"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, port, process, data)
    try:
        wait_ready(port, process, log)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # The data stays until the suite ends (suite.py). Deleting it here would slow every
        # later file creation: ext4 skips inodes freed in the last minutes (``recently_deleted``
        # in the kernel's inode allocator), scanning them at each create, which production,
        # where nothing is ever deleted, never does. stricture-server creates four inodes per
        # ingest (claim, run directory, record, index entry) to the floor's one, so the scan
        # would weigh on it four times as much.


def post(port: int, body: bytes, headers: dict[str, str] | None = None) -> int:
    """One POST /v1/artifacts; the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        sent = {"Content-Type": "application/json", **(headers or {})}
        connection.request("POST", "/v1/artifacts", body, sent)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def python() -> str:
    """The interpreter of the project's virtual environment."""
    candidate = VENV / "python"
    return str(candidate) if candidate.exists() else sys.executable


SECRET = "BENCH_ALERT_SECRET"
"""The variable the alert destination's signing secret is read from."""


def alert_rule(work: Path) -> dict[str, str]:
    """The settings of one alert rule for the benchmarks' organization, on its ``high`` changes.

    The deliverer polls once an hour: delivering is not part of an ingest, and the floors have
    none.
    """
    impacts = ["downstream", "self_only", "unknown"]
    rule = {"name": "high", "destinations": ["hook"], "impact": impacts}
    hook = {
        "type": "webhook",
        "url": "https://hooks.example.com/bench",
        "secrets": [{"env": SECRET}],
    }
    alerts = {"organizations": {"bench": {"destinations": {"hook": hook}, "rules": [rule]}}}
    path = work / "server.json"
    path.write_bytes(orjson.dumps({"version": 1, "alerts": alerts}))
    os.environ[SECRET] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    return {
        "STRICTURE_SERVER_CONFIG_FILE": str(path),
        "STRICTURE_SERVER_ALERT_POLL_SECONDS": "3600",
    }
