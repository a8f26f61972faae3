"""What ``Expect: 100-continue`` costs or saves on the s3 driver, per body size we send.

botocore sends ``Expect: 100-continue`` with every PutObject unless told not to: the body
waits for the store's ``100 Continue`` (one more round trip), and a create the store refuses
(``412``, an identical replay) is answered before the body is sent. This times the s3
driver's create of a new key and of an existing one (refused) with and without the header,
against moto's server on loopback, for each ingest body (the real corpus: small, the 110 KB
artifact, about 10 MB).

    .venv/bin/python benchmarks/expect_continue.py

Loopback has no round trip to speak of, so the figures show the local cost only; on a network
add one round trip per create with the header, and subtract the body's transfer time from
refused creates with it (moto reads the whole body before answering, as its server sends
``100 Continue`` itself).
"""

from __future__ import annotations

import contextlib
import statistics
import time
import uuid

from bodies import bodies
from botocore.handlers import add_expect_header
from query import moto_bucket

from stricture_server.errors import ObjectExists
from stricture_server.storage.s3 import S3Storage, open_object_storage

REPEAT = 20


def median_ms(storage: S3Storage, data: bytes, refused: bool) -> float:
    """Median time of ``REPEAT`` creates of ``data``: new keys, or one existing key."""
    taken = f"bench/{uuid.uuid4().hex}.json"
    storage.create(taken, data)
    times = []
    for _ in range(REPEAT):
        key = taken if refused else f"bench/{uuid.uuid4().hex}.json"
        started = time.perf_counter()
        with contextlib.suppress(ObjectExists):
            storage.create(key, data)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    """Print a Markdown table: create and refused create, with and without the header."""
    settings, stop = moto_bucket()
    without = open_object_storage(settings, "s3")
    with_header = open_object_storage(settings, "s3")
    # The driver no longer sends it: put botocore's handler back for the comparison.
    with_header.client.meta.events.register("before-call.s3", add_expect_header)
    print("| body | create, Expect | create, none | refused, Expect | refused, none |")
    print("|---|---|---|---|---|")
    try:
        for body in bodies():
            data = body.with_run_id("expect")
            cells = [
                median_ms(storage, data, refused)
                for refused in (False, True)
                for storage in (with_header, without)
            ]
            print(f"| {body.name} | " + " | ".join(f"{ms:.1f} ms" for ms in cells) + " |")
    finally:
        stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
