"""Bodies of many small values: a worker's peak memory for each, and the cost of measuring.

Every body goes to a fresh one-worker ``stricture-server serve`` (fs driver, the default body
cap of 10 MiB, so the default ``STRICTURE_SERVER_MAX_JSON_VALUES``): peak RSS growth is
``VmHWM`` after the request minus ``VmRSS`` before it (the peak reset first, as for the 10 MB
ingest in ``ingest.py``). The shapes are the worst we know per byte or per value, each at the
value limit (accepted or refused by the schema after parsing) or past it (refused before
parsing). Then the measure itself (``json_shape.shape``) is timed against ``orjson.loads`` on
the real artifacts, CPU time, interleaved batches, medians.

    .venv/bin/python benchmarks/shapes.py            # prints the tables of docs/performance.md
    .venv/bin/python benchmarks/shapes.py --measure-only    # the second table alone
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from bodies import bodies, envelope_bytes, large_artifact, real_artifact, require_corpus
from servers import cpu_ns, post, reset_peak, rss_kib, start
from validation_cost import paired

from stricture_server.ingest.json_shape import shape
from stricture_server.settings import Settings

CAP = 10 * 1024 * 1024
LIMIT = Settings.from_env({}).max_json_values
HEAD = b'{"organization":"bench","project":"checkout","service":"api",'


def _artifact_metadata(entries: Callable[[int], bytes], count: int) -> bytes:
    # artifact.metadata takes any object: the schema accepts the body, so it is also stored.
    members = b",".join(entries(n) for n in range(count))
    return HEAD + b'"artifact":{"schema_version":"1","fields":[],"metadata":{' + members + b"}}}"


def _diff_list(item: bytes, count: int) -> bytes:
    # diff.x is off the diff schema: parsed, then refused by validation with its problems.
    return (
        HEAD
        + b'"artifact":{"schema_version":"1","fields":[]},"diff":{"x":['
        + (b",".join([item] * count))
        + b"]}}"
    )


def _under(build: Callable[[int], bytes]) -> bytes:
    """The body of ``build`` with as many values as the limit lets through."""
    count = LIMIT
    while (values := shape(body := build(count), max_values=10**9).values) > LIMIT:
        count = count * LIMIT // values - 1
    return body


def shapes() -> list[tuple[str, bytes, dict[str, str]]]:
    """(name, body, extra headers) of each body sent."""
    gz = {"Content-Encoding": "gzip"}
    # The longest string each of LIMIT members can hold in a body at the cap: the worst shape
    # found, as it costs both per value and per byte.
    fill = (CAP - 300) // (LIMIT - 20) - len(b'"k0000000":"",')
    bomb = gzip.compress(b'{"diff":{"x":[' + b",".join([b"[]"] * 3_400_000) + b"]}}", 9)
    return [
        (
            "empty objects under distinct keys, at the limit (stored)",
            _under(lambda c: _artifact_metadata(lambda n: b'"k%07d":{}' % n, c)),
            {},
        ),
        (
            "strings under distinct keys, filling the cap at the limit (stored)",
            _artifact_metadata(lambda n: b'"k%07d":"%s"' % (n, b"s" * fill), LIMIT - 20),
            {},
        ),
        (
            "empty fields, at the limit: 2 million violations (refused by the schema)",
            _under(
                lambda c: (
                    HEAD
                    + b'"artifact":{"schema_version":"1","fields":['
                    + b",".join([b"{}"] * c)
                    + b"]}}"
                )
            ),
            {},
        ),
        (
            "empty lists, at the limit (refused by the schema)",
            _under(lambda c: _diff_list(b"[]", c)),
            {},
        ),
        (
            "one-letter strings, at the limit (refused by the schema)",
            _under(lambda c: _diff_list(b'"a"', c)),
            {},
        ),
        (
            "0.5 floats, at the limit (refused by the schema)",
            _under(lambda c: _diff_list(b"0.5", c)),
            {},
        ),
        ("gzip bomb: 3.4 million empty lists in 10 MB (refused before parsing)", bomb, gz),
        (
            "10 MiB of empty lists, plain (refused before parsing)",
            _diff_list(b"[]", (CAP - 200) // 3),
            {},
        ),
        (
            "10 MiB of strings holding commas (refused before parsing)",
            _diff_list(b'","', (CAP - 200) // 4),
            {},
        ),
    ]


def peak(work: Path, body: bytes, headers: dict[str, str]) -> tuple[int, int, float]:
    """Status, peak RSS growth in KiB and worker CPU ms of one request on a fresh worker."""
    settings = {"STRICTURE_SERVER_MAX_BODY_BYTES": str(CAP), "STRICTURE_SERVER_LOG_LEVEL": "error"}
    with start("stricture", work, 1, settings) as server:
        (worker,) = server.workers()
        post(server.port, envelope_bytes(b'{"schema_version":"1","fields":[]}'))
        reset_peak(worker)
        before = rss_kib(worker)
        used = cpu_ns(worker)
        status = post(server.port, body, headers)
        time.sleep(0.05)  # let the worker finish closing the connection
        return status, rss_kib(worker, "VmHWM") - before, (cpu_ns(worker) - used) / 1e6


def main() -> None:
    """Measure and print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--measure-only", action="store_true", help="only the measure's cost")
    options = parser.parse_args()
    require_corpus()
    if not options.measure_only:
        memory(options.samples)
    measure_cost()


def memory(samples: int) -> None:
    """The first table: each body on a fresh worker."""
    work = Path(tempfile.mkdtemp(prefix="stricture-shapes-"))
    try:
        print(f"value limit {LIMIT} (body cap {CAP} bytes)\n")
        print(
            "| body | bytes sent | values | status | peak RSS growth MiB | x body cap "
            "| worker CPU ms |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, body, headers in shapes():
            inflated = gzip.decompress(body) if headers else body
            values = shape(inflated, max_values=10**9).values
            runs = [peak(work, body, headers) for _ in range(samples)]
            growth = statistics.median(r[1] for r in runs) / 1024
            cpu = statistics.median(r[2] for r in runs)
            statuses = "/".join(sorted({str(r[0]) for r in runs}))
            print(
                f"| {name} | {len(body):,} | {values:,} | {statuses} | {growth:.1f} | "
                f"{growth * 1024 * 1024 / CAP:.2f}x | {cpu:.0f} |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure_cost() -> None:
    """The second table: the measure against the parse of the same bytes."""
    print("\n| body | bytes | values | depth | measure ms | orjson.loads ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, data in (
        ("real artifact (110 KB)", envelope_bytes(real_artifact())),
        ("real artifact and its diff (the 110 KB ingest)", bodies(large=False)[1].template),
        ("10 MB artifact", envelope_bytes(large_artifact())),
    ):
        found = shape(data, max_values=LIMIT)
        measure, parse = paired(
            [lambda d=data: shape(d, max_values=LIMIT), lambda d=data: orjson.loads(d)],
            budget=0.2,
            rounds=9,
        )
        print(
            f"| {name} | {len(data):,} | {found.values:,} | {found.depth} | {measure:.3f} | "
            f"{parse:.3f} | {measure / parse:.2f}x |"
        )


if __name__ == "__main__":
    main()
