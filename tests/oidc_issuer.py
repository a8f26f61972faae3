"""A local OIDC issuer on loopback: discovery + JWKS over real HTTP, and tokens shaped like
GitHub's and GitLab's, signed with generated RSA and EC keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "https://stricture.test"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class SigningKey:
    """A private key, its ``kid`` and the algorithm it signs with."""

    kid: str
    alg: str
    private: PrivateKey

    def jwk(self) -> dict[str, Any]:
        """The public half as a JWK."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            data: dict[str, Any] = orjson.loads(RSAAlgorithm.to_jwk(public))
        else:
            data = orjson.loads(ECAlgorithm.to_jwk(public))
        return {**data, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        """The public key in PEM, as an attacker would find it."""
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def rsa_key(kid: str) -> SigningKey:
    """A new RSA key signing RS256."""
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    """A new P-256 key signing ES256."""
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


@dataclass
class Issuer:
    """The issuer's state: published keys, how it answers, what it was asked."""

    url: str = ""
    published: list[SigningKey] = field(default_factory=list)
    mode: str = "up"
    """``up``, ``down`` (answers 503) or ``hang`` (never answers until released)."""
    jwks_fetches: int = 0
    release: threading.Event = field(default_factory=threading.Event)

    def token(self, key: SigningKey, claims: dict[str, Any], **header: Any) -> str:
        """A token signed by ``key``, from this issuer unless ``claims`` says otherwise."""
        now = int(time.time())
        payload = {"iss": self.url, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300}
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(
            payload, key.private, algorithm=key.alg, headers={"kid": key.kid, **header}
        )


def github_claims(owner: str = "acme", repo: str = "payments", **more: Any) -> dict[str, Any]:
    """Claims shaped like a GitHub Actions token's."""
    claims = {
        "sub": f"repo:{owner}/{repo}:ref:refs/heads/main",
        "repository": f"{owner}/{repo}",
        "repository_id": "1001",
        "repository_owner": owner,
        "repository_owner_id": "2002" if owner == "acme" else "3003",
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "job_workflow_ref": f"{owner}/{repo}/.github/workflows/ci.yml@refs/heads/main",
        "workflow": "ci",
        "run_id": "777",
        "run_attempt": "1",
        "actor": "someone",
        "jti": str(uuid.uuid4()),
    }
    claims.update(more)
    return claims


def gitlab_claims(**more: Any) -> dict[str, Any]:
    """Claims shaped like a GitLab CI ``id_tokens`` token's."""
    claims = {
        "sub": "project_path:acme/payments:ref_type:branch:ref:main",
        "namespace_id": "41",
        "namespace_path": "acme",
        "project_id": "42",
        "project_path": "acme/payments",
        "pipeline_id": "9000",
        "ref": "main",
        "ref_type": "branch",
        "jti": str(uuid.uuid4()),
    }
    claims.update(more)
    return claims


def b64(data: bytes) -> str:
    """base64url without padding, as JWS writes it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with(secret: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A token "signed" with HMAC-SHA256 keyed by ``secret`` (the key-confusion attack)."""
    head = b64(orjson.dumps(header)) + "." + b64(orjson.dumps(payload))
    signature = hmac.new(secret, head.encode(), hashlib.sha256).digest()
    return head + "." + b64(signature)


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A token with ``alg: none`` and no signature."""
    return b64(orjson.dumps(header)) + "." + b64(orjson.dumps(payload)) + "."


def _handler(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if issuer.mode == "hang":
                issuer.release.wait()
                return
            if self.path == "/.well-known/openid-configuration":
                self._answer({"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"})
            elif self.path == "/jwks":
                issuer.jwks_fetches += 1
                self._answer({"keys": [k.jwk() for k in issuer.published]})
            else:
                self.send_error(404)

        def _answer(self, document: dict[str, Any]) -> None:
            if issuer.mode != "up":
                self.send_error(503)
                return
            body = orjson.dumps(document)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def local_issuer(*keys: SigningKey) -> Iterator[Issuer]:
    """An issuer serving discovery and ``keys`` on a free loopback port."""
    issuer = Issuer(published=list(keys))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(issuer))
    server.daemon_threads = True
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        issuer.release.set()
        server.shutdown()
        server.server_close()
