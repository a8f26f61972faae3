"""What metrics cost a request: ``App.handle`` with ``STRICTURE_SERVER_METRICS`` off and on.

Timed in this process as CPU time, batches interleaved, medians (``validation_cost.paired``):
``GET /healthz`` (routing and the request line only) and a replayed ingest of a small run
(body read, validation, a storage read and create, each counted and timed when on). In one
process, so the values go to memory; under gunicorn they go to memory-mapped files, one per
worker.

    .venv/bin/python benchmarks/metrics_cost.py
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from io import BytesIO

import orjson
from validation_cost import paired
from werkzeug import Request
from werkzeug.test import EnvironBuilder

from stricture_server import Settings, create_app

BODY = orjson.dumps(
    {
        "organization": "acme",
        "project": "checkout",
        "service": "api",
        "run_id": "bench",
        "artifact": {"schema_version": "1", "fields": []},
    }
)


def caller(metrics: str, data_dir: str, method: str, path: str) -> Callable[[], object]:
    """One request through ``App.handle``, rebuilt for each call from the same environ."""
    env = {
        "STRICTURE_SERVER_DATA_DIR": data_dir,
        "STRICTURE_SERVER_METRICS": metrics,
        "STRICTURE_SERVER_LOG_LEVEL": "error",
    }
    app = create_app(Settings.from_env(env))
    body = BODY if method == "POST" else None
    headers = {"Content-Type": "application/json"} if body else {}
    environ = EnvironBuilder(path=path, method=method, data=body, headers=headers).get_environ()
    raw = environ["wsgi.input"].read()

    def call() -> object:
        return app.handle(Request({**environ, "wsgi.input": BytesIO(raw)}))

    call()  # the first ingest stores the run; the timed ones are identical replays
    return call


def main() -> None:
    """Print the median CPU microseconds per request, off and on."""
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as data_dir:
        for method, path in (("GET", "/healthz"), ("POST", "/v1/artifacts")):
            off, on = paired(
                [caller(m, data_dir, method, path) for m in ("off", "public")],
                budget=0.2,
                rounds=7,
            )
            print(
                f"{method} {path}: off {off * 1000:.1f} us, on {on * 1000:.1f} us, "
                f"+{(on - off) * 1000:.1f} us a request"
            )


if __name__ == "__main__":
    main()
