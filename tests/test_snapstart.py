"""SnapStart's restore hooks, called as the Lambda runtime calls them, on copies of one process.

A restored instance is a copy of the memory of the init, resumed without anything running at
the copy: no at-fork handler. The copies here are made the same way, by the ``fork`` system
call itself (not ``os.fork``, whose handlers reseed Python's generators and would hide what a
restore does not do), from a process that built the handler as the entry does, answered one
ingest and ran the runtime's before-snapshot hooks (awslambdaric's own runner).
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import orjson
import pytest

from . import lambda_events
from .entries import ADAPTERS, in_fresh_interpreter
from .factory import envelope
from .objectstore import fault_proxy, new_bucket, object_env

_COPIES = """
import ctypes, json, os, platform, sys
sys.path.insert(0, {folder!r})
import handler
from awslambdaric import lambda_runtime_hooks_runner as runtime
from stricture_server.runstore.identity import new_run_id

class Context:
    aws_request_id = "snapstart"
    function_name = "stricture-server"
    memory_limit_in_mb = 1024

def sockets():
    # The TCP connections this process holds open.
    tcp = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as lines:
            tcp |= {{line.split()[9] for line in list(lines)[1:]}}
    held = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{{fd}}")
        except OSError:
            continue
        held += target.startswith("socket:[") and target[8:-1] in tcp
    return held

answer = handler.handler(json.loads(open({event!r}, "rb").read()), Context())
held = sockets()
runtime.run_before_snapshot()
report = {{"status": answer["statusCode"], "sockets_held": held, "sockets_kept": sockets()}}

libc = ctypes.CDLL(None, use_errno=True)

def copy():
    if platform.machine() == "x86_64":
        return libc.syscall(57)  # fork
    return libc.syscall(220, 17, 0, 0, 0, 0)  # clone(SIGCHLD), aarch64

read, write = os.pipe()
for restored in (True, True, False, False):
    pid = copy()
    if pid == 0:
        if restored:
            runtime.run_after_restore()
        os.write(write, (json.dumps([restored, new_run_id()]) + "\\n").encode())
        os._exit(0)
    assert pid > 0, ctypes.get_errno()
    os.waitpid(pid, 0)
os.close(write)
with os.fdopen(read) as pipe:
    report["copies"] = [json.loads(line) for line in pipe]
print(json.dumps(report))
"""


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "aarch64") or sys.platform != "linux",
    reason="copies a process by the Linux fork system call",
)
def test_copies_restored_from_one_snapshot_draw_their_own_run_ids(tmp_path: Path) -> None:
    event = lambda_events.http_v2(
        method="POST",
        path="/v1/artifacts",
        raw_query="",
        headers=[("content-type", "application/json")],
        body=orjson.dumps(envelope()),
    )
    path = tmp_path / "event.json"
    path.write_bytes(orjson.dumps(event))
    code = _COPIES.format(folder=str(ADAPTERS / "aws_lambda"), event=str(path))
    # Through the proxy, which keeps connections alive as S3 does (moto closes each one).
    with fault_proxy() as proxy:
        env = object_env("s3", new_bucket(), proxy.url)
        report = in_fresh_interpreter(code, {**env, "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"})
    assert report["status"] == 202
    # The ingest left a pooled connection to the store; none goes into the snapshot.
    assert report["sockets_held"] >= 1
    assert report["sockets_kept"] == 0
    # A run id is 48 bits of milliseconds, then random bits (UUIDv7): compare the random part.
    drawn = {
        restored: [run_id[14:] for r, run_id in report["copies"] if r == restored]
        for restored in (True, False)
    }
    # Without the hooks, the copies draw the same bits: the hazard is real...
    assert drawn[False][0] == drawn[False][1]
    # ... and after them, each copy draws its own.
    assert drawn[True][0] != drawn[True][1]
    assert not set(drawn[True]) & set(drawn[False])


def test_without_snapstart_no_hook_is_registered(tmp_path: Path) -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(ADAPTERS / 'aws_lambda')!r})\n"
        "import handler, snapshot_restore_py as hooks\n"
        "print([len(hooks.get_before_snapshot()), len(hooks.get_after_restore())])\n"
    )
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path),
        "STRICTURE_SERVER_ALLOW_EPHEMERAL_STORAGE": "true",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    }
    assert in_fresh_interpreter(code, env) == [0, 0]
