"""What checking a record's digest on read costs, next to reading the record.

Stores each benchmark body (the real corpus: small, the real 110 KB artifact with its diff,
about 10 MB) as a record on ``fs`` through the ingest path, then times, per record, the read
alone, the digest check alone and the checked read (``RunStore.read_record``: claim read,
record read, sha256 over the content, digest compared with the claim's).

    .venv/bin/python benchmarks/integrity.py

Prints a Markdown table (docs/performance.md, "Integrity on read").
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from bodies import Body, bodies

from stricture_server.runstore.integrity import record_digest
from stricture_server.runstore.records import normalize
from stricture_server.runstore.runs import RunStore
from stricture_server.storage.fs import FileStorage

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def best_ms(call: Callable[[], object], repeat: int = 30) -> float:
    """The median of ``repeat`` timings of ``call``, in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def row(runs: RunStore, body: Body, run_id: str) -> str:
    """The table row of one body, stored as a record."""
    record = normalize(orjson.loads(body.with_run_id(run_id)), NOW)
    key = runs.create(record, NOW).key
    data = runs.storage.read(key)
    read = best_ms(lambda: runs.storage.read(key))
    check = best_ms(lambda: record_digest(data))
    checked = best_ms(lambda: runs.read_record(record.identity))
    return f"| {body.name}, {len(data) / 1024:,.0f} KB | {read:.3f} | {check:.3f} | {checked:.3f} |"


def main() -> None:
    """Print the table."""
    print("| record | read (ms) | sha256 check (ms) | checked read (ms) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as root:
        runs = RunStore(FileStorage(root), "bench")
        for n, body in enumerate(bodies()):
            print(row(runs, body, f"r{n}"))


if __name__ == "__main__":
    main()
