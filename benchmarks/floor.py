"""The floor: the least an ingest can do, served by the same gunicorn as stricture-server.

Read the body, parse it with the same parser, write it durably as a new file (an anonymous
``O_TMPFILE`` file, fsync, create-if-absent by ``linkat``, directory fsync: the cheapest
durable create, the one the ``fs`` driver uses), answer 202. No routing, auth,
validation, identity, claim or logging: whatever stricture-server spends beyond this is its
own overhead. Run as ``gunicorn floor:app`` with ``FLOOR_DATA_DIR`` set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson

ROOT = os.environ.get("FLOOR_DATA_DIR", "floor-data")
os.makedirs(ROOT, exist_ok=True)


def create(directory: str, name: str, data: bytes) -> None:
    """Write ``data`` as the new file ``directory/name``, durably (the fs driver's create)."""
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o600, dir_fd=dir_fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dir_fd)
        finally:
            os.close(fd)
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Read, parse, store durably, answer 202 (any GET answers 200: the readiness probe)."""
    if environ["REQUEST_METHOD"] == "GET":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status":"ok"}']
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    orjson.loads(body)
    create(ROOT, f"{uuid.uuid4().hex}.json", body)
    start_response("202 Accepted", [("Content-Type", "application/json")])
    return [b'{"accepted":true}']
