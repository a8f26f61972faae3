"""Entry files loaded as their platform loads them; bodies refused as the platform would."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from .deliveries import ROOT, PlatformRefused

MB = 1024 * 1024

FUNCTION_SETTINGS = {"STRICTURE_SERVER_ALLOW_EPHEMERAL_STORAGE": "true"}
"""The conformance suite stores on the fs driver, which function mode refuses unless allowed."""

ADAPTERS = ROOT / "adapters"


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` holding ``env`` while an entry module is imported, as at cold start."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_entry(relative: str, env: Mapping[str, str], name: str) -> ModuleType:
    """Import a platform entry file under a fresh module name, with ``env`` as its environment."""
    spec = importlib.util.spec_from_file_location(name, ADAPTERS / relative)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with environment(env):
        spec.loader.exec_module(module)
    return module


def check_body(limit: int, body: bytes) -> None:
    """Refuse as the platform would, before the function runs."""
    if len(body) > limit:
        raise PlatformRefused(f"{len(body)} bytes is over the platform's {limit}")


def in_fresh_interpreter(code: str, env: Mapping[str, str]) -> Any:
    """Run ``code`` in a new interpreter with only ``env`` (and the emulator's fake credentials),
    as a cold start does; what it printed last, as JSON."""
    from .objectstore import FAKE_AWS

    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"STRICTURE_SERVER_LOG_LEVEL": "warning", **FAKE_AWS, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])
