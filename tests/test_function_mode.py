"""Function mode: start-up refusals, settings read once, what only the adapters can get wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from stricture_server.adapters.aws_lambda import handler_from_env
from stricture_server.function import create_function_app
from stricture_server.settings import ConfigError, Settings

from . import factory, lambda_events
from .conftest import TOKEN
from .deliveries import Delivery, free_port
from .entries import FUNCTION_SETTINGS, MB
from .function_deliveries import AzureDelivery, GcfClientDelivery, gcf_process
from .lambda_deliveries import LambdaDelivery, lambda_handler, lambda_runtime, reply_from_lambda
from .lambda_runtime_api import InvocationFailed

ALLOW = "STRICTURE_SERVER_ALLOW_EPHEMERAL_STORAGE"
FS_REFUSAL = "STRICTURE_SERVER_ALLOW_EPHEMERAL_STORAGE=true for local testing"


def fs_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A function-mode configuration on the fs driver."""
    return {"STRICTURE_SERVER_DATA_DIR": str(tmp_path), **extra}


def test_function_mode_refuses_the_fs_driver(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="STRICTURE_SERVER_STORAGE_DRIVER='fs'") as caught:
        create_function_app(fs_env(tmp_path))
    assert FS_REFUSAL in str(caught.value)


@pytest.mark.parametrize("value", ["false", "0", "no", ""])
def test_function_mode_refuses_fs_unless_explicitly_allowed(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="no durable disk"):
        create_function_app(fs_env(tmp_path, **{ALLOW: value}))


def test_allowing_ephemeral_storage_needs_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="STRICTURE_SERVER_ALLOW_EPHEMERAL_STORAGE='maybe'"):
        create_function_app(fs_env(tmp_path, **{ALLOW: "maybe"}))


def test_allowed_ephemeral_storage_starts(tmp_path: Path) -> None:
    app = create_function_app(fs_env(tmp_path, **{ALLOW: "TRUE"}))
    assert app.settings.allow_ephemeral_storage


def test_process_mode_ignores_the_function_refusal(tmp_path: Path) -> None:
    assert Settings.from_env(fs_env(tmp_path)).storage_driver == "fs"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", ""), ("/", ""), ("prod", "/prod"), ("/prod/", "/prod"), (" /a/b ", "/a/b")],
)
def test_api_base_path_is_normalised(raw: str, expected: str) -> None:
    settings = Settings.from_env({"STRICTURE_SERVER_API_BASE_PATH": raw})
    assert settings.api_base_path == expected


@pytest.mark.parametrize("raw", ["/a b", "/prod?x=1", "/a#b", "/a//b", "/%70rod", "\\prod"])
def test_bad_api_base_path_is_refused_by_name(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"STRICTURE_SERVER_API_BASE_PATH=.*path prefix"):
        Settings.from_env({"STRICTURE_SERVER_API_BASE_PATH": raw})


def test_lambda_runtime_reports_the_refusal_as_an_init_error(tmp_path: Path) -> None:
    with lambda_runtime(fs_env(tmp_path)) as invoke, pytest.raises(InvocationFailed) as caught:
        invoke(
            lambda_events.http_v2(method="GET", path="/healthz", raw_query="", headers=[], body=b"")
        )
    assert FS_REFUSAL in str(caught.value)


def test_functions_framework_process_refuses_to_start(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="server exited") as caught,
        gcf_process(fs_env(tmp_path)),
    ):
        pass
    assert FS_REFUSAL in str(caught.value)


def test_settings_are_read_once_per_cold_start(tmp_path: Path) -> None:
    env = fs_env(tmp_path, **FUNCTION_SETTINGS, STRICTURE_SERVER_INGEST_TOKEN=TOKEN)
    handler = handler_from_env(env)
    env["STRICTURE_SERVER_INGEST_TOKEN"] = "another-token"
    event = lambda_events.function_url(
        method="POST",
        path="/v1/artifacts",
        raw_query="",
        headers=[("Content-Type", "application/json"), ("Authorization", f"Bearer {TOKEN}")],
        body=orjson.dumps(factory.envelope()),
    )
    first = reply_from_lambda(handler(event, lambda_events.Context()))
    second = reply_from_lambda(handler(event, lambda_events.Context()))
    # The token changed after the cold start does not count: the first one still does.
    assert (first.status, second.status) == (202, 202)


def test_without_the_base_path_setting_a_named_stage_is_not_found(tmp_path: Path) -> None:
    env = fs_env(tmp_path, **FUNCTION_SETTINGS)
    event = lambda_events.http_v2(
        method="GET", path="/healthz", raw_query="", headers=[], body=b"", stage="prod"
    )
    plain = reply_from_lambda(handler_from_env(env)(event, lambda_events.Context()))
    configured = handler_from_env({**env, "STRICTURE_SERVER_API_BASE_PATH": "/prod"})
    stripped = reply_from_lambda(configured(event, lambda_events.Context()))
    assert (plain.status, stripped.status) == (404, 200)


@pytest.fixture
def unreachable_store_env(tmp_path: Path) -> dict[str, str]:
    """An s3 configuration whose endpoint refuses connections: every store call fails."""
    return {
        "STRICTURE_SERVER_STORAGE_DRIVER": "s3",
        "STRICTURE_SERVER_OBJECT_BUCKET": "lineage",
        "STRICTURE_SERVER_OBJECT_MAX_ATTEMPTS": "1",
        "STRICTURE_SERVER_OBJECT_CONNECT_TIMEOUT_SECONDS": "1",
        "STRICTURE_SERVER_LOG_LEVEL": "error",
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }


@pytest.fixture(params=["lambda", "gcf", "azure"])
def unreachable_store(
    request: pytest.FixtureRequest, unreachable_store_env: dict[str, str]
) -> Delivery:
    """An in-process function entry in front of the unreachable store."""
    env = unreachable_store_env
    if request.param == "lambda":
        return LambdaDelivery("lambda", lambda_events.http_v2, lambda_handler(env, "s3"), MB)
    if request.param == "gcf":
        return GcfClientDelivery(env)
    return AzureDelivery(env)


def test_unavailable_storage_stays_a_503_with_retry_after(unreachable_store: Delivery) -> None:
    headers = {"Content-Type": "application/json"}
    reply = unreachable_store.send(
        "POST", "/v1/artifacts", headers, orjson.dumps(factory.envelope())
    )
    assert reply.status == 503, reply.body[:300]
    assert reply.headers.get("Retry-After")
    assert reply.headers.get("Content-Type") == "application/json"


@pytest.mark.parametrize("request_id", factory.HOSTILE_REQUEST_IDS)
def test_functions_framework_app_replaces_a_hostile_request_id(
    tmp_path: Path, request_id: str
) -> None:
    delivery = GcfClientDelivery({**FUNCTION_SETTINGS, **fs_env(tmp_path)})
    # In the environ directly: the test client's own header builder refuses a newline.
    response = delivery.client.get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": request_id})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] != request_id


def envelope_request() -> dict[str, Any]:
    """An ingest, as the keyword arguments of an event builder."""
    return {
        "method": "POST",
        "path": "/v1/artifacts",
        "raw_query": "",
        "headers": [("Content-Type", "application/json")],
        "body": orjson.dumps(factory.envelope()),
    }


S3_NOTIFICATION = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "s3": {}}]}
SCHEDULE = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        (
            lambda_events.vpc_lattice(**envelope_request(), version=1),
            "VPC Lattice (event version 1.0)",
        ),
        (
            lambda_events.vpc_lattice(**envelope_request(), version=2),
            "VPC Lattice (event version 2.0)",
        ),
        (S3_NOTIFICATION, "records from aws:s3"),
        (SCHEDULE, "EventBridge event from aws.events"),
        ({"hello": "world"}, "unrecognised event (keys: hello)"),
        ([1, 2], "a JSON list, not an object"),
    ],
    ids=["lattice-v1", "lattice-v2", "s3", "eventbridge", "unknown", "list"],
)
def test_an_unsupported_lambda_event_is_a_json_400_naming_it(
    tmp_path: Path, event: Any, kind: str
) -> None:
    handler = handler_from_env(fs_env(tmp_path, **FUNCTION_SETTINGS))
    result = handler(event, lambda_events.Context())
    assert result["statusDescription"] == "400 Bad Request"
    reply = reply_from_lambda(result)
    assert reply.status == 400
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {
        "error": f"unsupported event: {kind}; this function serves API Gateway (REST and HTTP "
        "APIs), function URL and Application Load Balancer requests",
        "event": kind,
    }
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # nothing was stored


def test_the_lambda_runtime_answers_a_vpc_lattice_event_with_the_400(tmp_path: Path) -> None:
    with lambda_runtime(fs_env(tmp_path, **FUNCTION_SETTINGS)) as invoke:
        result = invoke(lambda_events.vpc_lattice(**envelope_request(), version=2))
    assert reply_from_lambda(result).json()["event"] == "VPC Lattice (event version 2.0)"
