"""Start-up refusals of the real commands: one line, exit 2, before anything is served."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import orjson
import pytest

from . import lambda_events
from .commands import run_command
from .deliveries import free_port, http_send, server_process
from .function_deliveries import gcf_process
from .lambda_deliveries import lambda_runtime
from .lambda_runtime_api import InvocationFailed
from .objectstore import emulator, new_bucket, object_env

INSTALL_HINT = "install the s3 extra: pip install '.[s3]'"


def one_line_refusal(env: dict[str, str], *args: str) -> str:
    """Run the command; it must exit 2 with exactly one line on stderr, which is returned."""
    result = run_command(env, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("stricture-server: configuration error: ")
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def without_botocore(tmp_path: Path) -> dict[str, str]:
    """``PYTHONPATH`` with a ``botocore`` package that fails to import, as if it were absent."""
    shadow = tmp_path / "shadow" / "botocore"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'botocore'\")\n")
    return {"PYTHONPATH": str(shadow.parent)}


def object_store_env(driver: str, data_dir: Path, endpoint: str, bucket: str) -> dict[str, str]:
    """``driver`` (s3 or mirror to s3) on ``bucket`` behind ``endpoint``."""
    return object_env(
        driver,
        bucket,
        endpoint,
        STRICTURE_SERVER_MIRROR_TARGET="s3",
        STRICTURE_SERVER_DATA_DIR=str(data_dir),
        STRICTURE_SERVER_LOG_LEVEL="warning",
    )


@pytest.mark.parametrize(
    ("driver", "command"),
    [
        ("s3", "serve"),
        ("r2", "serve"),
        ("mirror", "serve"),
        ("s3", "reindex"),
        ("mirror", "replicate"),
    ],
)
def test_an_object_store_driver_without_botocore_is_a_configuration_error(
    tmp_path: Path, without_botocore: dict[str, str], driver: str, command: str
) -> None:
    env = {**object_store_env(driver, tmp_path, "http://127.0.0.1:9", "runs"), **without_botocore}
    line = one_line_refusal(env, command)
    assert f"STRICTURE_SERVER_STORAGE_DRIVER={driver!r} needs botocore" in line
    assert line.endswith(INSTALL_HINT)


def test_the_fs_driver_does_not_need_botocore(
    tmp_path: Path, without_botocore: dict[str, str]
) -> None:
    env = {"STRICTURE_SERVER_DATA_DIR": str(tmp_path), **without_botocore}
    with server_process(env) as (port, _):
        assert http_send(port, "GET", "/healthz", {}).status == 200


def test_function_mode_without_botocore_fails_its_init_with_the_same_line(
    tmp_path: Path, without_botocore: dict[str, str]
) -> None:
    env = {**object_store_env("s3", tmp_path, "http://127.0.0.1:9", "runs"), **without_botocore}
    event = lambda_events.http_v2(method="GET", path="/healthz", raw_query="", headers=[], body=b"")
    with lambda_runtime(env) as invoke, pytest.raises(InvocationFailed) as caught:
        invoke(event)
    # The runtime's report comes first, on one line; the runtime's output follows.
    report = orjson.loads(str(caught.value).splitlines()[0])
    assert report["errorType"] == "ConfigError"
    assert report["errorMessage"].endswith(INSTALL_HINT)
    assert "\n" not in report["errorMessage"]


def test_cloud_functions_without_botocore_stops_with_the_one_line(
    tmp_path: Path, without_botocore: dict[str, str]
) -> None:
    env = {**object_store_env("s3", tmp_path, "http://127.0.0.1:9", "runs"), **without_botocore}
    with pytest.raises(RuntimeError) as caught, gcf_process(env):
        pass
    status, heading, *output = str(caught.value).splitlines()
    assert status == "server exited with 2:"
    assert heading.startswith("last 40 lines of ")
    (line,) = output
    assert line.startswith("stricture-server: configuration error: ")
    assert line.endswith(INSTALL_HINT)


def test_a_token_with_auth_none_refuses_to_start(tmp_path: Path) -> None:
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path),
        "STRICTURE_SERVER_AUTH_MODE": "none",
        "STRICTURE_SERVER_INGEST_TOKEN": "s3cr3t-token-value",
    }
    line = one_line_refusal(env, "serve")
    assert "STRICTURE_SERVER_AUTH_MODE='none' with STRICTURE_SERVER_INGEST_TOKEN set" in line
    assert "s3cr3t-token-value" not in line


@pytest.mark.parametrize("command", ["serve", "reindex"])
@pytest.mark.parametrize("driver", ["s3", "mirror"])
def test_a_missing_bucket_stops_the_process_at_start(
    tmp_path: Path, driver: str, command: str
) -> None:
    env = object_store_env(driver, tmp_path, emulator(), "no-such-bucket-here")
    line = one_line_refusal(env, command)
    assert "STRICTURE_SERVER_OBJECT_BUCKET='no-such-bucket-here': no such bucket" in line
    assert "NoSuchBucket" in line


@pytest.mark.parametrize("command", ["serve", "reindex"])
def test_an_unreachable_store_stops_the_s3_process_at_start(tmp_path: Path, command: str) -> None:
    refused = f"http://127.0.0.1:{free_port()}"
    line = one_line_refusal(object_store_env("s3", tmp_path, refused, "runs"), command)
    assert "STRICTURE_SERVER_OBJECT_BUCKET='runs': the object store cannot be used" in line
    assert "unreachable" in line


def test_the_mirror_starts_while_its_store_is_unreachable(tmp_path: Path) -> None:
    # The mirror acknowledges from its local disk; an outage at start is what it is for.
    refused = f"http://127.0.0.1:{free_port()}"
    with server_process(object_store_env("mirror", tmp_path, refused, "runs")) as (port, _):
        assert http_send(port, "GET", "/healthz", {}).status == 200


def test_an_existing_bucket_passes_the_start_check(tmp_path: Path) -> None:
    with server_process(object_store_env("s3", tmp_path, emulator(), new_bucket())) as (port, _):
        assert http_send(port, "GET", "/healthz", {}).status == 200


@pytest.mark.parametrize("jobs", ["0", "-3", "many"])
def test_reindex_refuses_a_number_of_jobs_below_one(tmp_path: Path, jobs: str) -> None:
    result = run_command({"STRICTURE_SERVER_DATA_DIR": str(tmp_path)}, "reindex", "--jobs", jobs)
    assert result.returncode == 2
    assert f"argument --jobs: expected a positive integer, got {jobs!r}" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_comes_from_the_package_metadata() -> None:
    result = run_command({}, "--version")
    assert result.returncode == 0
    assert result.stdout == f"stricture-server {version('stricture-server')}\n"
