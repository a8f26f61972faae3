"""Request bodies for the benchmarks, built from the real corpus in ``../shared/fixtures``.

The corpus is read in place, never copied into the project. Each body is an ingest envelope
with a ``run_id`` placeholder, so the load generator can give every request its own run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
ARTIFACT = FIXTURES / "lineage-artifact-baseline.json"
DIFF = FIXTURES / "lineage-diff-baseline-to-current.json"
RUN_ID = b"@RUN_ID@"
LARGE_BYTES = 10_000_000


@dataclass(frozen=True)
class Body:
    """One envelope template: ``prefix + run_id + suffix`` is the body of one request."""

    name: str
    template: bytes

    @property
    def size(self) -> int:
        """The body size, close enough (the run id replaces the placeholder)."""
        return len(self.template)

    def split(self) -> tuple[bytes, bytes]:
        """The bytes before and after the run id."""
        prefix, _, suffix = self.template.partition(RUN_ID)
        return prefix, suffix

    def with_run_id(self, run_id: str) -> bytes:
        """One concrete body."""
        return self.template.replace(RUN_ID, run_id.encode())


def _envelope(artifact: bytes, diff: bytes | None = None) -> bytes:
    # The run id comes first, so the part before it is small and the rest is sent as is.
    head = b'{"run_id":"' + RUN_ID + b'","organization":"bench","project":"checkout",'
    tail = b',"diff":' + diff if diff is not None else b""
    return head + b'"service":"api","artifact":' + artifact + tail + b"}"


def require_corpus() -> None:
    """Fail with a clear message when the shared corpus is not beside the project."""
    for path in (ARTIFACT, DIFF):
        if not path.is_file():
            raise SystemExit(f"benchmarks: the real corpus is missing: {path}")


def real_artifact() -> bytes:
    """The real 110 KB lineage artifact, byte for byte."""
    return ARTIFACT.read_bytes()


def large_artifact(size: int = LARGE_BYTES) -> bytes:
    """An artifact of about ``size`` bytes: the real fields repeated under new field ids."""
    real: dict[str, Any] = orjson.loads(ARTIFACT.read_bytes())
    per_copy = len(orjson.dumps({"fields": real["fields"]}, option=orjson.OPT_INDENT_2))
    fields: list[dict[str, Any]] = []
    copy = 0
    while (copy + 1) * per_copy < size:
        for field in real["fields"]:
            # field_id must match ^[a-z][a-z0-9_]{2,63}$: a short copy prefix keeps it unique.
            new_id = f"c{copy:04d}_{field['field_id']}"[:64]
            fields.append({**field, "field_id": new_id})
        copy += 1
    return orjson.dumps({**real, "fields": fields}, option=orjson.OPT_INDENT_2)


def small_artifact() -> bytes:
    """The real artifact cut down to its first field."""
    real: dict[str, Any] = orjson.loads(ARTIFACT.read_bytes())
    return orjson.dumps({**real, "fields": real["fields"][:1]})


def envelope_bytes(artifact: bytes) -> bytes:
    """An envelope holding ``artifact`` and no diff, with a fixed run id."""
    return Body("", _envelope(artifact)).with_run_id("validation")


def bodies(*, large: bool = True) -> list[Body]:
    """The ingest bodies: small, the real artifact with its real diff, and about 10 MB."""
    require_corpus()
    found = [
        Body("small envelope (1 field)", _envelope(small_artifact())),
        Body("real 110 KB artifact + real diff", _envelope(real_artifact(), DIFF.read_bytes())),
    ]
    if large:
        found.append(Body("10 MB artifact", _envelope(large_artifact())))
    return found


def ingests(app: Any, body: Body, label: str) -> Callable[[], None]:
    """One ingest of ``body`` through ``App.handle`` per call, a new run id each time."""
    from werkzeug import Request
    from werkzeug.test import EnvironBuilder

    numbers = itertools.count()

    def ingest() -> None:
        environ = EnvironBuilder(
            path="/v1/artifacts",
            method="POST",
            data=body.with_run_id(f"{label}-{next(numbers)}"),
            content_type="application/json",
        ).get_environ()
        if app.handle(Request(environ)).status_code != 202:
            raise SystemExit("benchmarks: the ingest was refused")

    return ingest


def store_runs(
    storage: Any, prefix: str, runs: Iterable[tuple[dict[str, Any], datetime]], jobs: int = 10
) -> None:
    """Store each ``(envelope, received)`` through the run store and the index, as ingest
    does (claim and record, then the index objects), ``jobs`` at a time."""
    from stricture_server.runstore.index import Index, RunFacts
    from stricture_server.runstore.records import normalize
    from stricture_server.runstore.runs import RunStore, format_time

    store = RunStore(storage, prefix)
    index = Index(storage, prefix)

    def one(run: tuple[dict[str, Any], datetime]) -> None:
        document, received = run
        record = normalize(document, received)
        store.create(record, received)
        index.add(RunFacts.from_fields(record.identity, document, format_time(received)))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, runs))
