"""OIDC tokens against a local issuer on loopback: every way a token can be wrong."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from werkzeug.test import Client

from stricture_server import Settings
from stricture_server.access.keys import IssuerKeys
from stricture_server.app import create_app
from stricture_server.errors import Unauthenticated

from . import factory
from .access_config import bearer, token_entry, write_config
from .oidc_issuer import (
    AUDIENCE,
    Issuer,
    SigningKey,
    ec_key,
    github_claims,
    gitlab_claims,
    hs256_with,
    local_issuer,
    rsa_key,
    unsigned,
)

LEEWAY = 60
RSA = rsa_key("rsa-1")
EC = ec_key("ec-1")
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with local_issuer(RSA, EC) as running:
        yield running


def access(issuer: Issuer, **more: Any) -> dict[str, Any]:
    """An access section trusting ``issuer`` (as GitHub-like and GitLab-like) with two rules."""
    return {
        "leeway_seconds": LEEWAY,
        "issuers": [{"issuer": issuer.url, "audience": AUDIENCE, "algorithms": ["RS256", "ES256"]}],
        "rules": [
            {
                "name": "acme on github",
                "when": {"issuer": issuer.url, "repository_owner_id": 2002, "ref": "refs/heads/*"},
                "grant": [{"actions": ["write", "read"], "organization": "acme"}],
            },
            {
                "name": "payments on gitlab",
                "when": {"issuer": issuer.url, "project_id": "42"},
                "grant": [{"actions": ["write"], "organization": "acme", "project": "payments"}],
            },
        ],
        **more,
    }


def app_for(tmp_path: Path, section: dict[str, Any]) -> Client:
    config = write_config(tmp_path / "server.json", section)
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path / "data"),
        "STRICTURE_SERVER_CONFIG_FILE": str(config),
        "STRICTURE_SERVER_LOG_LEVEL": "warning",
    }
    return Client(create_app(Settings.from_env(env)))


@pytest.fixture
def client(tmp_path: Path, issuer: Issuer) -> Client:
    return app_for(tmp_path, access(issuer))


def ingest(client: Client, token: str, organization: str = "acme") -> Any:
    body = orjson.dumps(factory.envelope(organization=organization, project="payments"))
    return client.post("/v1/artifacts", data=body, headers={**JSON, **bearer(token)})


def refused(client: Client, token: str) -> str:
    response = client.get("/v1/whoami", headers=bearer(token))
    assert response.status_code == 401, response.data
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="stricture-server"'
    reason: str = orjson.loads(response.data)["error"]
    return reason


def test_a_github_token_writes_where_its_rule_grants(client: Client, issuer: Issuer) -> None:
    token = issuer.token(RSA, github_claims())
    assert ingest(client, token).status_code == 202
    denied = ingest(client, token, "globex")
    assert denied.status_code == 403
    assert orjson.loads(denied.data)["target"] == "globex/payments/api"


def test_another_owner_has_no_grant(client: Client, issuer: Issuer) -> None:
    token = issuer.token(RSA, github_claims(owner="globex"))
    assert ingest(client, token).status_code == 403


def test_whoami_shows_the_claims_that_matter_and_the_rule(client: Client, issuer: Issuer) -> None:
    token = issuer.token(RSA, github_claims())
    answer = orjson.loads(client.get("/v1/whoami", headers=bearer(token)).data)
    assert answer["identity"] == {
        "kind": "oidc",
        "id": "repo:acme/payments:ref:refs/heads/main",
        "issuer": issuer.url,
        "repository": "acme/payments",
        "repository_id": "1001",
        "repository_owner": "acme",
        "repository_owner_id": "2002",
        "ref": "refs/heads/main",
        "job_workflow_ref": "acme/payments/.github/workflows/ci.yml@refs/heads/main",
        "workflow": "ci",
        "run_id": "777",
    }
    assert answer["rules"] == ["acme on github"]
    assert token not in str(answer)


def test_a_gitlab_token_signed_with_an_ec_key(client: Client, issuer: Issuer) -> None:
    token = issuer.token(EC, gitlab_claims())
    assert ingest(client, token).status_code == 202
    answer = orjson.loads(client.get("/v1/whoami", headers=bearer(token)).data)
    assert answer["rules"] == ["payments on gitlab"]
    assert answer["identity"]["project_path"] == "acme/payments"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "https://elsewhere.test"}, "wrong audience"),
        ({"aud": [AUDIENCE, "https://elsewhere.test"]}, "wrong audience"),
        ({"aud": [AUDIENCE]}, "wrong audience"),
        ({"aud": None}, "the token has no aud claim"),
        ({"exp": None}, "the token has no exp claim"),
        ({"iss": "https://token.actions.githubusercontent.com"}, "unknown issuer"),
    ],
)
def test_claims_that_are_refused(
    client: Client, issuer: Issuer, claims: dict[str, Any], reason: str
) -> None:
    assert reason in refused(client, issuer.token(RSA, github_claims(**claims)))


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"exp": -(LEEWAY - 30)}, 200),
        ({"exp": -(LEEWAY + 30)}, 401),
        ({"nbf": LEEWAY - 30}, 200),
        ({"nbf": LEEWAY + 30}, 401),
        ({"iat": LEEWAY - 30}, 200),
        ({"iat": LEEWAY + 30}, 401),
    ],
    ids=[
        "expired inside the leeway",
        "expired outside the leeway",
        "not yet valid inside the leeway",
        "not yet valid outside the leeway",
        "issued in the future inside the leeway",
        "issued in the future outside the leeway",
    ],
)
def test_times_hold_within_the_leeway(
    client: Client, issuer: Issuer, claims: dict[str, int], status: int
) -> None:
    # Offsets 30 s from the edge: a loaded machine can take seconds between mint and check.
    now = int(time.time())
    times: dict[str, Any] = {k: now + v for k, v in claims.items()}
    token = issuer.token(RSA, github_claims(**times))
    response = client.get("/v1/whoami", headers=bearer(token))
    assert response.status_code == status, response.data
    if status == 401:
        reason = orjson.loads(response.data)["error"]
        assert reason in (
            "the token expired",
            "the token is not valid yet (nbf or iat in the future)",
        )


def test_alg_none_is_refused(client: Client, issuer: Issuer) -> None:
    now = int(time.time())
    payload = {**github_claims(), "iss": issuer.url, "aud": AUDIENCE, "iat": now, "exp": now + 60}
    token = unsigned({"alg": "none", "typ": "JWT", "kid": RSA.kid}, payload)
    assert "algorithm 'none' is not accepted" in refused(client, token)


def test_hs256_keyed_with_the_public_key_is_refused(client: Client, issuer: Issuer) -> None:
    now = int(time.time())
    payload = {**github_claims(), "iss": issuer.url, "aud": AUDIENCE, "iat": now, "exp": now + 60}
    token = hs256_with(RSA.public_pem(), {"alg": "HS256", "typ": "JWT", "kid": RSA.kid}, payload)
    assert "algorithm 'HS256' is not accepted" in refused(client, token)


def test_a_tampered_payload_does_not_verify(client: Client, issuer: Issuer) -> None:
    from .oidc_issuer import b64

    head, _, signature = issuer.token(RSA, github_claims(owner="globex")).split(".")
    now = int(time.time())
    forged = {**github_claims(), "iss": issuer.url, "aud": AUDIENCE, "iat": now, "exp": now + 60}
    token = f"{head}.{b64(orjson.dumps(forged))}.{signature}"
    assert refused(client, token) == "the token's signature does not verify"


def test_a_key_of_another_type_under_a_known_kid_is_refused(client: Client, issuer: Issuer) -> None:
    impostor = SigningKey(RSA.kid, "ES256", EC.private)
    assert "not valid" in refused(client, issuer.token(impostor, github_claims()))


def test_rotation_fetches_once_and_a_made_up_kid_waits_for_the_cooldown() -> None:
    first, second = rsa_key("before"), rsa_key("after")
    now = [0.0]
    with local_issuer(first) as issuer:
        keys = IssuerKeys(issuer.url, "", 10.0, 60.0, clock=lambda: now[0])
        assert keys.key("before").key_id == "before"
        assert issuer.jwks_fetches == 1
        issuer.published = [first, second]
        now[0] = 61.0
        assert keys.key("after").key_id == "after"
        assert keys.key("after").key_id == "after"
        assert issuer.jwks_fetches == 2
        with pytest.raises(Unauthenticated, match="checked again at most every 60 s"):
            keys.key("made-up")
        assert issuer.jwks_fetches == 2
        # Keys fetched before a rotation keep verifying the tokens signed before it.
        issuer.published = [second]
        now[0] = 200.0
        with pytest.raises(Unauthenticated, match="not among the issuer's keys"):
            keys.key("made-up")
        assert keys.key("before").key_id == "before"
        assert issuer.jwks_fetches == 3


def test_cached_keys_keep_working_while_the_issuer_is_down(tmp_path: Path) -> None:
    key = rsa_key("cached")
    with local_issuer(key) as issuer:
        client = app_for(tmp_path, access(issuer))
        assert ingest(client, issuer.token(key, github_claims())).status_code == 202
        issuer.mode = "down"
        assert ingest(client, issuer.token(key, github_claims())).status_code == 202
        # An unknown kid within the cooldown is refused without asking the issuer.
        reason = refused(client, issuer.token(rsa_key("new"), github_claims()))
        assert "is not among the issuer's keys" in reason
        assert issuer.jwks_fetches == 1


def test_an_issuer_that_never_answers_is_a_401_within_the_bound(tmp_path: Path) -> None:
    key = rsa_key("unreachable")
    with local_issuer(key) as issuer:
        issuer.mode = "hang"
        client = app_for(tmp_path, access(issuer, key_fetch_seconds=0.2))
        reason = refused(client, issuer.token(key, github_claims()))
        # Whichever comes first: the wait's bound, or the fetch's own socket timeout.
        assert reason in (
            "the issuer's keys could not be fetched: no answer in time",
            "the issuer's keys could not be fetched: timed out",
        )


def test_the_jwt_library_is_not_loaded_without_an_issuer(tmp_path: Path) -> None:
    import subprocess
    import sys

    token, entry = token_entry("ci", "write:acme")
    config = write_config(tmp_path / "server.json", {"tokens": [entry]})
    body = orjson.dumps(factory.envelope(organization="acme")).decode()
    code = (
        "import os, sys\n"
        "from werkzeug.test import Client\n"
        "from stricture_server.function import create_function_app\n"
        "client = Client(create_function_app(os.environ))\n"
        f"headers = {{'Content-Type': 'application/json', 'Authorization': 'Bearer {token}'}}\n"
        f"status = client.post('/v1/artifacts', data={body!r}, headers=headers).status_code\n"
        "print(status, 'jwt' in sys.modules)\n"
    )
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path / "data"),
        "STRICTURE_SERVER_CONFIG_FILE": str(config),
        "STRICTURE_SERVER_ALLOW_EPHEMERAL_STORAGE": "true",
        "STRICTURE_SERVER_LOG_LEVEL": "warning",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.stdout.strip() == "202 False", done.stderr


def test_a_token_verified_before_still_expires(issuer: Issuer) -> None:
    from stricture_server.access.oidc import OidcVerifier
    from stricture_server.access.settings import AccessSettings

    now = [time.time()]
    verifier = OidcVerifier(AccessSettings.from_section(access(issuer)), now=lambda: now[0])
    token = issuer.token(RSA, github_claims(exp=int(now[0]) + 100))
    assert verifier.verify(token)[1]["sub"] == "repo:acme/payments:ref:refs/heads/main"
    assert verifier.verify(token)[1]["sub"] == "repo:acme/payments:ref:refs/heads/main"
    now[0] += 100 + LEEWAY
    with pytest.raises(Unauthenticated, match="the token expired"):
        verifier.verify(token)
