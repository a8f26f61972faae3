"""What the access policy costs an ingest: the real 110 KB artifact through ``App.handle``.

Timed in this process as CPU time, batches interleaved, medians (``validation_cost.paired``),
all in the same run: today's ingest with the shared token (``AUTH_MODE=token``), the same
ingest in policy mode with a service token and with an OIDC token of a local issuer (keys
cached: the fetch happens once, before timing), and, alone, one JWT verification (of a token
seen before, answered from memory, and of a new one) and one policy evaluation. The timed
ingests are identical replays of a stored run (body read, parse, validation, a read and
compare), cheaper than a first store, so the ratios overstate the share of the access checks.

    .venv/bin/python benchmarks/access.py
"""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import orjson
from bodies import Body, _envelope, real_artifact, require_corpus
from validation_cost import paired
from werkzeug import Request
from werkzeug.test import EnvironBuilder

from stricture_server import Settings, create_app
from stricture_server.access.enforce import require
from stricture_server.access.grants import WRITE, Target
from stricture_server.access.oidc import OidcVerifier
from stricture_server.access.settings import AccessSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.access_config import token_entry
from tests.oidc_issuer import AUDIENCE, github_claims, local_issuer, rsa_key

SHARED = "shared-benchmark-token-0123456789"


def access_section(issuer: str, entry: dict[str, object]) -> dict[str, object]:
    """Ten rules, the matching one last, and one service token: a policy of a real size."""
    rules = [
        {
            "name": f"team {n}",
            "when": {"issuer": issuer, "repository_owner_id": str(9000 + n)},
            "grant": [{"actions": ["write", "read"], "organization": f"team-{n}"}],
        }
        for n in range(9)
    ]
    rules.append(
        {
            "name": "acme",
            "when": {"issuer": issuer, "repository_owner_id": "2002", "ref": "refs/heads/*"},
            "grant": [{"actions": ["write", "read"], "organization": "acme"}],
        }
    )
    return {
        "issuers": [{"issuer": issuer, "audience": AUDIENCE}],
        "tokens": [entry],
        "rules": rules,
    }


def ingest_call(env: dict[str, str], body: bytes, token: str) -> Callable[[], object]:
    """One ingest through ``App.handle``, the first storing the run, the rest replays."""
    app = create_app(Settings.from_env(env))
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    environ = EnvironBuilder(
        path="/v1/artifacts", method="POST", data=body, headers=headers
    ).get_environ()
    raw = environ["wsgi.input"].read()

    def call() -> object:
        response = app.handle(Request({**environ, "wsgi.input": BytesIO(raw)}))
        assert response.status_code == 202, response.get_data()
        return response

    call()
    return call


def main() -> None:
    """Print the median CPU per ingest of each mode, and of verification and policy alone."""
    logging.disable(logging.CRITICAL)
    require_corpus()
    body = Body("", _envelope(real_artifact())).with_run_id("access-bench")
    body = orjson.dumps({**orjson.loads(body), "organization": "acme"})
    service, entry = token_entry("bench", "write:acme")
    key = rsa_key("bench")
    with local_issuer(key) as issuer, tempfile.TemporaryDirectory() as work:
        config = Path(work) / "server.json"
        section = access_section(issuer.url, entry)
        config.write_bytes(orjson.dumps({"version": 1, "access": section}))
        base = {"STRICTURE_SERVER_LOG_LEVEL": "error", "STRICTURE_SERVER_INGEST_TOKEN": SHARED}
        today = {**base, "STRICTURE_SERVER_DATA_DIR": f"{work}/today"}
        policy = {
            **base,
            "STRICTURE_SERVER_DATA_DIR": f"{work}/policy",
            "STRICTURE_SERVER_CONFIG_FILE": str(config),
        }
        # Minted once: a CI job sends the same token on every request of its run.
        oidc = issuer.token(key, github_claims())
        verifier = OidcVerifier(AccessSettings.from_section(section))
        verifier.verify(oidc)
        settings = AccessSettings.from_section(section)
        _, claims = verifier.verify(oidc)
        kept = {k: str(v) for k, v in claims.items() if isinstance(v, str)}

        def evaluate() -> object:
            grants, _ = settings.policy.grants_for(issuer.url, claims["sub"], kept)
            from stricture_server.access.principal import Principal

            require(Principal("oidc", "x", grants), WRITE, Target("acme", "checkout", "api"))
            return grants

        calls = {
            "today (shared token)": ingest_call(today, body, SHARED),
            "policy, service token": ingest_call(policy, body, service),
            "policy, OIDC token": ingest_call(policy, body, oidc),
            "JWT verification, cached": lambda: verifier.verify(oidc),
            # What a token costs the first time a process sees it (once per CI job).
            "JWT verification, uncached": lambda: verifier._verify(oidc),
            "policy evaluation alone": evaluate,
        }
        found = paired(list(calls.values()), budget=0.3, rounds=9)
    baseline = found[0]
    print(f"real 110 KB artifact, median CPU ms per call (replays of a {len(body)}-byte envelope):")
    for name, ms in zip(calls, found, strict=True):
        print(f"  {name:26} {ms:8.3f} ms  {ms / baseline:6.3f}x today's ingest")


if __name__ == "__main__":
    main()
