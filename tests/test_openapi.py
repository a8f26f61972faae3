"""The OpenAPI document: valid, current in the repository, served, in step with the routes,
usable by a generated client, and fuzzed by schemathesis against the real process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from openapi_spec_validator import validate
from werkzeug.test import Client

from stricture_server import Settings, create_app
from stricture_server.ingest.validation import load_schema
from stricture_server.openapi import build_document

from . import factory
from .deliveries import ROOT, server_process

REPO_COPY = ROOT / "docs" / "openapi.json"
# In an environment of its own (scripts/bootstrap dev): it requires an older jsonschema-rs.
SCHEMATHESIS = ROOT / ".schemathesis-venv" / "bin" / "schemathesis"
SOURCES = "stricture_server/openapi/paths/*.json"
TOKEN = "openapi-token-0123456789"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
"""Answered for every GET route by werkzeug itself, and described once in the info text."""

FUZZ_EXAMPLES = 15
"""Examples per operation and phase: about 30 s a run here, bounded whatever the machine."""
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance"
)


def test_the_document_is_valid_openapi_3_1() -> None:
    document = build_document()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_repository_copy_is_the_built_document() -> None:
    built = orjson.dumps(build_document(), option=orjson.OPT_INDENT_2) + b"\n"
    assert REPO_COPY.read_bytes() == built, (
        "docs/openapi.json is stale: python -m stricture_server.openapi > docs/openapi.json"
    )


def test_the_server_serves_it_for_its_base_path(tmp_path: Path) -> None:
    env = {"STRICTURE_SERVER_DATA_DIR": str(tmp_path), "STRICTURE_SERVER_INGEST_TOKEN": TOKEN}
    reply = Client(create_app(Settings.from_env(env))).get("/v1/openapi.json")
    assert reply.status_code == 200  # public, like /healthz, in token mode too
    assert reply.mimetype == "application/json"
    assert reply.get_json() == build_document()
    based = {**env, "STRICTURE_SERVER_API_BASE_PATH": "/prod"}
    served = Client(create_app(Settings.from_env(based))).get("/v1/openapi.json").get_json()
    assert served["servers"] == [{"url": "/prod"}]


def routes(tmp_path: Path) -> set[tuple[str, str]]:
    """Every (method, path) the app routes, with paths written as OpenAPI writes them."""
    app = create_app(Settings.from_env({"STRICTURE_SERVER_DATA_DIR": str(tmp_path)}))
    found: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        found.update((method, path) for method in (rule.methods or set()) - IGNORED_METHODS)
    return found


def documented() -> set[tuple[str, str]]:
    """Every (method, path) the document describes."""
    methods = {"get", "put", "post", "delete", "patch"}
    return {
        (method.upper(), path)
        for path, item in build_document()["paths"].items()
        for method in item
        if method in methods
    }


def test_every_route_is_documented_and_every_operation_is_a_route(tmp_path: Path) -> None:
    served = routes(tmp_path)
    described = documented()
    missing = sorted(served - described)
    assert not missing, f"routes the document lacks; describe them in {SOURCES}: {missing}"
    extra = sorted(described - served)
    assert not extra, f"operations no route serves; remove them from {SOURCES}: {extra}"


def test_the_document_takes_in_the_validation_schemas_unchanged() -> None:
    schemas = build_document()["components"]["schemas"]
    for component, name in (("Envelope", "envelope"), ("LineageDiff", "diff")):
        original = load_schema(name)
        hoisted = schemas[component]
        assert hoisted["properties"].keys() == original["properties"].keys()
        assert hoisted.get("required") == original.get("required")
    change = load_schema("diff")["$defs"]["change"]
    assert schemas["LineageDiff_change"]["properties"].keys() == change["properties"].keys()
    body = schemas["Ingest"]["allOf"]
    assert {"$ref": "#/components/schemas/Envelope"} in body


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The real server in token mode."""
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path_factory.mktemp("openapi-token")),
        "STRICTURE_SERVER_INGEST_TOKEN": TOKEN,
        "STRICTURE_SERVER_MAX_BODY_BYTES": "1048576",
        "STRICTURE_SERVER_LOG_LEVEL": "error",
    }
    with server_process(env) as (port, _):
        yield port


def tool_env() -> dict[str, str]:
    """The environment for the tools: this interpreter's scripts first (they call ruff)."""
    scripts = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}"}


CLIENT_SCRIPT = """
import sys
from stricture_server_client import AuthenticatedClient
from stricture_server_client.api.default import ingest, read_run
from stricture_server_client.models import Accepted, Ingest, Record
import orjson

envelope = orjson.loads(sys.argv[2])
client = AuthenticatedClient(base_url=sys.argv[1], token=sys.argv[3])
accepted = ingest.sync(client=client, body=Ingest.from_dict(envelope))
assert isinstance(accepted, Accepted), accepted
record = read_run.sync(
    envelope["organization"], envelope["project"], envelope["service"], accepted.run_id,
    client=client,
)
assert isinstance(record, Record), record
print(orjson.dumps({"location": accepted.location, "record": record.to_dict()}).decode())
"""


@pytest.mark.slow
def test_a_generated_client_works_without_edits(token_server: int, tmp_path: Path) -> None:
    generator = Path(sys.executable).parent / "openapi-python-client"
    generated = subprocess.run(
        [str(generator), "generate", "--path", str(REPO_COPY), "--output-path", "client"],
        cwd=tmp_path,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout
    envelope: dict[str, Any] = factory.envelope(
        run_id="generated-client", diff=factory.diff(2), commit_sha="ABCDEF1"
    )
    used = subprocess.run(
        [
            sys.executable,
            "-c",
            CLIENT_SCRIPT,
            f"http://127.0.0.1:{token_server}",
            orjson.dumps(envelope).decode(),
            TOKEN,
        ],
        cwd=tmp_path / "client",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert used.returncode == 0, used.stderr
    answer = orjson.loads(used.stdout)
    assert answer["location"].endswith("/checkout/api/generated-client")
    assert answer["record"]["commit_sha"] == "abcdef1"
    assert answer["record"]["diff"] == factory.diff(2)


def schemathesis(port: int, workdir: Path, *headers: str) -> subprocess.CompletedProcess[str]:
    """schemathesis's own command against the server at ``port``, bounded in examples.

    Run in ``workdir``, where it keeps its cache of failures found.
    """
    command = [
        str(SCHEMATHESIS),
        "run",
        f"http://127.0.0.1:{port}/v1/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(FUZZ_EXAMPLES),
        "--seed",
        "15",
        "--workers",
        "1",
        "--phases",
        "coverage,fuzzing,stateful",
        "--request-timeout",
        "60",
    ]
    for header in headers:
        command += ["--header", header]
    return subprocess.run(
        command,
        cwd=workdir,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _summary(result: subprocess.CompletedProcess[str]) -> str:
    # The failures are at the end; schemathesis prints each one's reproduction.
    return (result.stdout + result.stderr)[-6000:]


@pytest.mark.slow
def test_schemathesis_finds_nothing_in_token_mode(token_server: int, tmp_path: Path) -> None:
    result = schemathesis(token_server, tmp_path, f"Authorization: Bearer {TOKEN}")
    assert result.returncode == 0, _summary(result)
    assert "passed" in result.stdout


@pytest.mark.slow
def test_schemathesis_finds_nothing_without_auth(tmp_path: Path) -> None:
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path / "data"),
        "STRICTURE_SERVER_MAX_BODY_BYTES": "1048576",
        "STRICTURE_SERVER_METRICS": "public",
        "STRICTURE_SERVER_LOG_LEVEL": "error",
    }
    with server_process(env) as (port, _):
        result = schemathesis(port, tmp_path)
    assert result.returncode == 0, _summary(result)
    assert "passed" in result.stdout
    # Its stateful phase stored runs (POST, then GET of the run by the link).
    assert any((tmp_path / "data").rglob("payload.json"))
