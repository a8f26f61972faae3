"""Cold start: importing each platform entry in a fresh process, against its unavoidable floor.

An entry is what the platform imports on a cold start (``adapters/aws_lambda/handler.py``
builds the handler from the environment at import). Its floor is importing only the
libraries it cannot do without. Each figure is the median CPU time of fresh interpreters
(CPU, not wall, so other processes on a shared machine do not count); the child also
reports which modules it loaded that the fs driver never uses.
"""

from __future__ import annotations

import os
import statistics
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson
from servers import ROOT, python

CORE = ("werkzeug", "orjson", "jsonschema_rs")
UNUSED_BY_FS = ("boto3", "botocore", "s3transfer", "moto", "flask", "functions_framework")


@dataclass(frozen=True)
class Entry:
    """One platform entry: the module a platform imports, where it lives, its floor."""

    name: str
    module: str
    path: str
    """Directory put first on ``sys.path`` ("" for the project root)."""
    floor: tuple[str, ...]
    needs: str
    """A module whose absence means the entry does not exist yet (skipped)."""


ENTRIES = (
    Entry(
        "WSGI (stricture_server.wsgi)",
        "stricture_server.wsgi",
        "",
        CORE,
        "stricture_server.wsgi",
    ),
    Entry(
        "AWS Lambda (adapters/aws_lambda/handler.py)",
        "handler",
        "adapters/aws_lambda",
        (*CORE, "mangum"),
        "stricture_server.adapters.aws_lambda",
    ),
    Entry(
        "Cloud Functions (adapters/gcp_functions/main.py)",
        "main",
        "adapters/gcp_functions",
        CORE,
        "stricture_server.adapters.gcp",
    ),
    Entry(
        "Azure Functions (adapters/azure_functions/function_app.py)",
        "function_app",
        "adapters/azure_functions",
        (*CORE, "azure.functions"),
        "stricture_server.adapters.azure",
    ),
)

_CHILD = """
import sys, time
sys.path.insert(0, {path!r})
began = time.process_time()
{imports}
elapsed = time.process_time() - began
import json
print(json.dumps({{"ms": elapsed * 1000, "unused": [m for m in {unused!r} if m in sys.modules]}}))
"""


@dataclass(frozen=True)
class Start:
    """Median cold import of one entry and of its floor, in milliseconds."""

    entry: Entry
    entry_ms: float
    floor_ms: float
    uncached_ms: float
    """The entry again, compiling the project's modules (no ``.pyc``)."""
    unused: tuple[str, ...]
    heaviest: tuple[tuple[str, float], ...]

    @property
    def ratio(self) -> float:
        """Entry over floor."""
        return self.entry_ms / self.floor_ms


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRICTURE_SERVER_")}
    env.update(
        STRICTURE_SERVER_STORAGE_DRIVER="fs",
        STRICTURE_SERVER_DATA_DIR=str(work / "coldstart-data"),
        STRICTURE_SERVER_ALLOW_EPHEMERAL_STORAGE="true",
    )
    # Bytecode cached, as after ``pip install`` (which compiles every module): written once by
    # a warm-up import into a cache of our own, so the source tree stays as it is.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def _uncached(env: dict[str, str]) -> dict[str, str]:
    """The environment of an import with no bytecode cache for the project's own modules.

    The libraries keep the bytecode pip compiled at install; the project's modules are
    compiled on every start, as in a deployment package shipped without ``.pyc`` files.
    """
    bare = {k: v for k, v in env.items() if k != "PYTHONPYCACHEPREFIX"}
    bare["PYTHONDONTWRITEBYTECODE"] = "1"
    return bare


def _child(path: str, modules: tuple[str, ...], env: dict[str, str], *flags: str) -> str:
    imports = "\n".join(f"import {m}" for m in modules)
    code = _CHILD.format(path=str(ROOT / path), imports=imports, unused=UNUSED_BY_FS)
    done = subprocess.run(
        [python(), *flags, "-c", code], env=env, cwd=ROOT, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmarks: importing {modules} failed: {done.stderr.decode()[-2000:]}")
    return done.stdout.decode() + "\0" + done.stderr.decode()


def _modules(importtime: str) -> dict[str, float]:
    """Self import time (ms) of each module in a ``-X importtime`` trace."""
    found: dict[str, float] = {}
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        found[name.strip()] = int(self_us) / 1000
    return found


def _heaviest(entry: str, floor: str) -> tuple[tuple[str, float], ...]:
    """Self import time per top-level package of the modules the floor does not load (ms)."""
    baseline = _modules(floor)
    per_package: Counter[str] = Counter()
    for name, ms in _modules(entry).items():
        if name not in baseline:
            per_package[name.split(".")[0]] += ms
    return tuple((name, round(ms, 1)) for name, ms in per_package.most_common(6))


def exists(module: str) -> bool:
    """Whether the project has ``module`` now."""
    relative = Path(*module.split("."))
    return (ROOT / relative.with_suffix(".py")).is_file() or (ROOT / relative).is_dir()


def measure(work: Path, *, runs: int) -> list[Start]:
    """Median fresh-process import time of every entry that exists, and of its floor."""
    env = _env(work)
    found = []
    for entry in ENTRIES:
        if not exists(entry.needs) or (entry.path and not (ROOT / entry.path).is_dir()):
            continue
        _child(entry.path, (entry.module,), env)  # warm-up: writes the bytecode cache
        _child("", entry.floor, env)
        entry_ms, floor_ms, uncached_ms = [], [], []
        unused: tuple[str, ...] = ()
        for _ in range(runs):
            # Alternate, so a busy moment of the machine hits both.
            result = orjson.loads(_child(entry.path, (entry.module,), env).split("\0")[0])
            entry_ms.append(result["ms"])
            unused = tuple(result["unused"])
            floor_ms.append(orjson.loads(_child("", entry.floor, env).split("\0")[0])["ms"])
            bare = _child(entry.path, (entry.module,), _uncached(env)).split("\0")[0]
            uncached_ms.append(orjson.loads(bare)["ms"])
        trace = _child(entry.path, (entry.module,), env, "-X", "importtime").split("\0")[1]
        floor_trace = _child("", entry.floor, env, "-X", "importtime").split("\0")[1]
        found.append(
            Start(
                entry,
                statistics.median(entry_ms),
                statistics.median(floor_ms),
                statistics.median(uncached_ms),
                unused,
                _heaviest(trace, floor_trace),
            )
        )
    return found
