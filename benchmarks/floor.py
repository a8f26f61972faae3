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


def _store(data: bytes) -> None:
    directory = os.open(ROOT, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o600, dir_fd=directory)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            os.link(f"/proc/self/fd/{fd}", f"{uuid.uuid4().hex}.json", dst_dir_fd=directory)
        finally:
            os.close(fd)
        os.fsync(directory)
    finally:
        os.close(directory)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Read, parse, store durably, answer 202 (any GET answers 200: the readiness probe)."""
    if environ["REQUEST_METHOD"] == "GET":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status":"ok"}']
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    orjson.loads(body)
    _store(body)
    start_response("202 Accepted", [("Content-Type", "application/json")])
    return [b'{"accepted":true}']
