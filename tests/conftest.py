"""Shared fixtures: deployments of the app, one per delivery, and fresh data directories."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from . import process_log
from .deliveries import Delivery, Deployment, GunicornDelivery, WsgiDelivery, server_process
from .factory import CORPUS_MISSING, SHARED_FIXTURES
from .function_deliveries import FUNCTION_DELIVERIES
from .objectstore import emulator, new_bucket, object_env

TOKEN = "conformance-token-0123456789"
MAX_BODY = 4 * 1024 * 1024


def conformance_env(data_dir: Path) -> dict[str, str]:
    """The configuration every delivery of the conformance suite runs with."""
    return {
        "STRICTURE_SERVER_DATA_DIR": str(data_dir),
        "STRICTURE_SERVER_AUTH_MODE": "token",
        "STRICTURE_SERVER_INGEST_TOKEN": f"old-token-for-rotation,{TOKEN}",
        "STRICTURE_SERVER_MAX_BODY_BYTES": str(MAX_BODY),
        "STRICTURE_SERVER_LOG_LEVEL": "warning",
    }


def _wsgi(env: dict[str, str], stack: ExitStack) -> Delivery:
    return WsgiDelivery(env)


def _gunicorn(env: dict[str, str], stack: ExitStack) -> Delivery:
    port, _ = stack.enter_context(server_process(env))
    return GunicornDelivery(port)


def _on_object_store(driver: str) -> Callable[[dict[str, str], ExitStack], Delivery]:
    def deliver(env: dict[str, str], stack: ExitStack) -> Delivery:
        # The deployment's own reader is built from the same env: point both at a new bucket.
        env.update(
            object_env(driver, new_bucket(), emulator(), STRICTURE_SERVER_MIRROR_TARGET="s3")
        )
        env["STRICTURE_SERVER_LOG_LEVEL"] = "warning"
        return _gunicorn(env, stack)

    return deliver


DELIVERIES: dict[str, Callable[[dict[str, str], ExitStack], Delivery]] = {
    "wsgi": _wsgi,
    "gunicorn": _gunicorn,
    "gunicorn-s3": _on_object_store("s3"),
    "gunicorn-mirror": _on_object_store("mirror"),
    **FUNCTION_DELIVERIES,
}
"""Every way a request reaches the app; a new runtime adds one entry here."""


@pytest.fixture(scope="session", params=sorted(DELIVERIES))
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """The app behind each delivery, configured by :func:`conformance_env`."""
    env = conformance_env(tmp_path_factory.mktemp(f"data-{request.param}"))
    with ExitStack() as stack:
        yield Deployment(env, DELIVERIES[request.param](env, stack))


def pytest_report_header() -> str:
    """Say up front whether the real corpus is there to test against."""
    found = sorted(p.name for p in SHARED_FIXTURES.glob("*.json"))
    if found:
        return f"real corpus: {len(found)} files in {SHARED_FIXTURES}"
    return CORPUS_MISSING.format(where=SHARED_FIXTURES)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test shows the end of each running server's output, not all of it."""
    report: pytest.TestReport = yield
    if report.failed:
        for log in process_log.running():
            report.sections.append((f"{log.name} output", log.report()))
    return report


@pytest.fixture(scope="session", autouse=True)
def process_log_directory(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Process logs go under the session's temporary directory, which pytest prunes."""
    process_log.DIRECTORY[:] = [tmp_path_factory.mktemp("process-logs")]
