"""A worker's collector settings: made by the worker's own start, in a real interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from stricture_server.serving.heap import YOUNG_THRESHOLD

from .deliveries import HANG_SECONDS

# What gunicorn calls in each worker after the fork, then what the collector was left with.
WORKER_START = """
import gc, os, orjson
from stricture_server.serving.server import GunicornServer
from stricture_server.settings import Settings

before = gc.get_threshold()
GunicornServer(Settings.from_env(os.environ)).load()
print(orjson.dumps({
    "before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count()
}).decode())
"""


def test_a_worker_freezes_what_it_built_and_collects_the_young_less_often(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRICTURE_SERVER_")}
    env["STRICTURE_SERVER_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-c", WORKER_START],
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
        check=True,
    )
    found = orjson.loads(done.stdout.splitlines()[-1])
    assert found["before"][0] < YOUNG_THRESHOLD  # the interpreter's default, 700
    assert found["after"] == [YOUNG_THRESHOLD, *found["before"][1:]]
    # The app, its schemas and routes: thousands of objects no pass looks at again.
    assert found["frozen"] > 10_000
