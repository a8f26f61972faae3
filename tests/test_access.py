"""Service tokens, the policy and its enforcement on every route, in process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from werkzeug.test import Client

from stricture_server import Settings
from stricture_server.access.grants import ADMIN, READ, WRITE, Grant, Target, parse_scope
from stricture_server.access.principal import Principal
from stricture_server.access.routes import ROUTES
from stricture_server.app import create_app
from stricture_server.settings import ConfigError

from . import factory
from .access_config import bearer, token_entry, write_config

JSON = {"Content-Type": "application/json"}

WRITER, WRITER_ENTRY = token_entry("acme-writer", "write:acme/payments/*")
READER, READER_ENTRY = token_entry("acme-reader", "read:acme")
GLOBEX, GLOBEX_ENTRY = token_entry("globex-all", "write,read,admin:globex")
OLD, OLD_ENTRY = token_entry("old", "read:*", expires="2020-01-01T00:00:00Z")
SHARED = "shared-token-0123456789"


@pytest.fixture
def client(tmp_path: Path) -> Client:
    config = write_config(
        tmp_path / "server.json",
        {"tokens": [WRITER_ENTRY, READER_ENTRY, GLOBEX_ENTRY, OLD_ENTRY]},
    )
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path / "data"),
        "STRICTURE_SERVER_CONFIG_FILE": str(config),
        "STRICTURE_SERVER_INGEST_TOKEN": SHARED,
        "STRICTURE_SERVER_LOG_LEVEL": "warning",
    }
    return Client(create_app(Settings.from_env(env)))


def ingest(client: Client, token: str, organization: str, project: str = "payments") -> Any:
    body = orjson.dumps(factory.envelope(organization=organization, project=project))
    return client.post("/v1/artifacts", data=body, headers={**JSON, **bearer(token)})


def test_policy_mode_is_the_default_with_an_access_section(client: Client) -> None:
    app = client.application
    assert app.settings.auth_mode == "policy"  # type: ignore[attr-defined]


def test_a_scoped_token_writes_only_where_its_scope_says(client: Client) -> None:
    assert ingest(client, WRITER, "acme").status_code == 202
    refused = ingest(client, WRITER, "globex")
    assert refused.status_code == 403
    assert refused.json == {
        "error": "token acme-writer may not write globex/payments/api",
        "action": "write",
        "target": "globex/payments/api",
    }
    # Checked on the canonical names: "ACME" and " Acme " are acme.
    assert ingest(client, WRITER, " ACME ").status_code == 202


def test_a_caller_who_may_write_nothing_is_refused_before_its_body_is_read(
    client: Client,
) -> None:
    response = client.post("/v1/artifacts", data=b"not json", headers={**JSON, **bearer(READER)})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "a bearer token is required"),
        ({"Authorization": "Basic abc"}, "a bearer token is required"),
        (bearer("stk_not-a-known-token"), "the service token is not known (revoked or mistyped?)"),
        (bearer(OLD), "the service token old expired"),
        (bearer("something-else"), "the bearer token is not valid"),
        (bearer("a.b.c"), "the bearer token is not valid"),
    ],
)
def test_no_or_bad_credentials_are_401_saying_why(
    client: Client, headers: dict[str, str], reason: str
) -> None:
    response = client.get("/v1/artifacts/acme", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="stricture-server"'
    assert response.json == {"error": reason}


def test_the_shared_token_keeps_every_scope_in_policy_mode(client: Client) -> None:
    assert ingest(client, SHARED, "anything").status_code == 202
    assert client.get("/v1/replication", headers=bearer(SHARED)).status_code == 404


def test_admin_actions_need_admin(client: Client) -> None:
    registry = {"systems": [{"id": "orders:api", "name": "Orders", "owner_team": "team"}]}
    headers = {**JSON, **bearer(READER)}
    refused = client.post("/v1/registry/acme", data=orjson.dumps(registry), headers=headers)
    assert refused.status_code == 403
    headers = {**JSON, **bearer(GLOBEX)}
    stored = client.post("/v1/registry/globex", data=orjson.dumps(registry), headers=headers)
    assert stored.status_code == 201
    assert client.get("/v1/registry/globex", headers=bearer(READER)).status_code == 403
    assert client.get("/v1/replication", headers=bearer(GLOBEX)).status_code == 403


def test_listings_show_only_what_the_caller_may_read(client: Client) -> None:
    for org, project in [("acme", "payments"), ("acme", "search"), ("globex", "payments")]:
        assert ingest(client, SHARED, org, project).status_code == 202

    def names(token: str, path: str, key: str, name: str) -> list[str]:
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 200, response.json
        return [entry[name] for entry in orjson.loads(response.data)[key]]

    assert names(READER, "/v1/artifacts", "organizations", "organization") == ["acme"]
    assert names(GLOBEX, "/v1/artifacts", "organizations", "organization") == ["globex"]
    assert names(SHARED, "/v1/artifacts/acme", "projects", "project") == ["payments", "search"]
    assert names(READER, "/v1/artifacts/acme", "projects", "project") == ["payments", "search"]
    assert names(READER, "/v1/artifacts/acme/search", "services", "service") == ["api"]
    assert client.get("/v1/artifacts/globex", headers=bearer(READER)).status_code == 403
    assert client.get("/v1/changes/globex", headers=bearer(READER)).status_code == 403
    feed = client.get("/v1/changes/acme", headers=bearer(READER))
    assert feed.status_code == 200
    # A caller who may write but not read sees no listing at all.
    assert client.get("/v1/artifacts", headers=bearer(WRITER)).status_code == 403


def test_the_org_feed_merges_only_the_services_the_caller_may_read(tmp_path: Path) -> None:
    searcher, searcher_entry = token_entry("searcher", "read:acme/search")
    config = write_config(tmp_path / "server.json", {"tokens": [searcher_entry]})
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path / "data"),
        "STRICTURE_SERVER_CONFIG_FILE": str(config),
        "STRICTURE_SERVER_INGEST_TOKEN": SHARED,
    }
    client = Client(create_app(Settings.from_env(env)))
    for project in ("payments", "search"):
        envelope = factory.envelope(organization="acme", project=project, diff=factory.diff())
        headers = {**JSON, **bearer(SHARED)}
        assert (
            client.post("/v1/artifacts", data=orjson.dumps(envelope), headers=headers).status_code
            == 202
        )
    every = orjson.loads(client.get("/v1/changes/acme", headers=bearer(SHARED)).data)
    mine = orjson.loads(client.get("/v1/changes/acme", headers=bearer(searcher)).data)
    # A change's location is /v1/artifacts/{org}/{project}/{service}/{run_id}.
    assert {c["location"].split("/")[4] for c in every["changes"]} == {"payments", "search"}
    assert mine["changes"]
    assert {c["location"].split("/")[4] for c in mine["changes"]} == {"search"}


def test_whoami_names_the_caller_and_its_grants_never_the_token(client: Client) -> None:
    response = client.get("/v1/whoami", headers=bearer(WRITER))
    assert response.status_code == 200
    assert response.json == {
        "identity": {"kind": "token", "id": "acme-writer"},
        "rules": [],
        "grants": [
            {"actions": ["write"], "organization": "acme", "project": "payments", "service": "*"}
        ],
    }
    assert WRITER not in response.get_data(as_text=True)
    assert client.get("/v1/whoami").status_code == 401


def test_probes_stay_open(client: Client) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/v1/openapi.json").status_code == 200


def test_every_route_of_the_app_is_described_for_the_policy(client: Client) -> None:
    app = client.application
    described = set(ROUTES)
    for rule in app.url_map.iter_rules():  # type: ignore[attr-defined]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (rule.rule, method) in described, (rule.rule, method)


@pytest.mark.parametrize(
    ("scope", "grant"),
    [
        ("read:acme", Grant(frozenset({READ}), "acme")),
        ("write,read:acme/pay*", Grant(frozenset({WRITE, READ}), "acme", "pay*")),
        ("admin:*/*/api", Grant(frozenset({ADMIN}), "*", "*", "api")),
    ],
)
def test_scopes_are_grants(scope: str, grant: Grant) -> None:
    assert parse_scope(scope) == grant


@pytest.mark.parametrize("scope", ["read", "delete:acme", "read:", "read:Acme", "read:a/b/c/d"])
def test_bad_scopes_are_refused(scope: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        parse_scope(scope)


def test_a_whole_organization_needs_a_grant_on_every_project() -> None:
    narrow = Grant(frozenset({READ}), "acme", "payments")
    assert narrow.allows(READ, Target("acme", "payments", "api"))
    assert not narrow.allows(READ, Target("acme"))
    assert narrow.touches(READ, Target("acme"))
    assert not narrow.touches(READ, Target("acme", "search"))


def test_audit_fields_hold_the_identity_and_never_a_credential() -> None:
    principal = Principal(
        kind="oidc",
        id="repo:acme/payments:ref:refs/heads/main",
        grants=parse_scope_grants(),
        issuer="https://token.actions.githubusercontent.com",
        claims={"repository": "acme/payments", "run_id": "42"},
    )
    assert principal.audit_fields() == {
        "kind": "oidc",
        "id": "repo:acme/payments:ref:refs/heads/main",
        "issuer": "https://token.actions.githubusercontent.com",
        "repository": "acme/payments",
        "run_id": "42",
    }


def parse_scope_grants() -> Any:
    from stricture_server.access.grants import Grants

    return Grants((parse_scope("read:acme"),))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STRICTURE_SERVER_AUTH_MODE": "policy"}, "needs an access section"),
        ({"STRICTURE_SERVER_AUTH_MODE": "none", "CONFIG": "access"}, "would not be enforced"),
        ({"STRICTURE_SERVER_AUTH_MODE": "token", "CONFIG": "access"}, "would not be enforced"),
    ],
)
def test_modes_that_would_ignore_the_policy_are_refused_at_start(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    env = {**env, "STRICTURE_SERVER_INGEST_TOKEN": SHARED}
    if env.pop("CONFIG", None):
        config = write_config(tmp_path / "server.json", {"tokens": [READER_ENTRY]})
        env["STRICTURE_SERVER_CONFIG_FILE"] = str(config)
    if env["STRICTURE_SERVER_AUTH_MODE"] == "none":
        del env["STRICTURE_SERVER_INGEST_TOKEN"]
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_a_bad_scope_in_the_file_is_a_start_error(tmp_path: Path) -> None:
    _, entry = token_entry("bad", "delete:acme")
    config = write_config(tmp_path / "server.json", {"tokens": [entry]})
    with pytest.raises(ConfigError, match="/access/tokens/0/scopes/0"):
        Settings.from_env({"STRICTURE_SERVER_CONFIG_FILE": str(config)})


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stricture_server", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_token_create_prints_the_token_once_and_an_entry_that_accepts_it(tmp_path: Path) -> None:
    import yaml  # type: ignore[import-untyped]

    made = run_cli(
        "token", "create", "--scope", "write:acme", "--note", "deploy bot", "--id", "bot"
    )
    assert made.returncode == 0, made.stderr
    token, _, rest = made.stdout.partition("\n")
    assert token.startswith("stk_")
    entry = yaml.safe_load(rest)[0]
    assert token not in rest
    assert entry["id"] == "bot"
    assert entry["scopes"] == ["write:acme"]
    assert entry["note"] == "deploy bot"
    config = write_config(tmp_path / "server.json", {"tokens": [entry, READER_ENTRY]})
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path / "data"),
        "STRICTURE_SERVER_CONFIG_FILE": str(config),
    }
    client = Client(create_app(Settings.from_env(env)))
    assert ingest(client, token, "acme").status_code == 202
    listed = run_cli("token", "list", env={**env, "PATH": ""})
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "bot  write:acme  never expires  # deploy bot"
    assert lines[1].startswith("acme-reader  read:acme")
    assert token not in listed.stdout


def test_token_create_refuses_a_bad_scope() -> None:
    made = run_cli("token", "create", "--scope", "write")
    assert made.returncode == 2
    assert "ACTIONS:ORG" in made.stderr


@pytest.mark.parametrize("issuer", ["http://issuer.example.com", "http://10.0.0.1:8080"])
def test_an_issuer_in_the_clear_off_loopback_is_a_start_error(tmp_path: Path, issuer: str) -> None:
    section = {"issuers": [{"issuer": issuer, "audience": "x"}]}
    config = write_config(tmp_path / "server.json", section)
    with pytest.raises(ConfigError, match="must be https"):
        Settings.from_env({"STRICTURE_SERVER_CONFIG_FILE": str(config)})


def test_an_expiry_without_an_offset_is_read_as_utc() -> None:
    from datetime import UTC, datetime

    from stricture_server.access.tokens import TokenBook, service_token
    from stricture_server.errors import Unauthenticated

    token, entry = token_entry("bare", "read:acme", expires="2020-01-01T00:00:00")
    parsed = service_token(entry)
    assert parsed.expires == datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(Unauthenticated, match="expired"):
        TokenBook([parsed]).find(token, datetime.now(UTC))
