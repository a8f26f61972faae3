"""The ``access`` section of the configuration file, parsed into typed objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..config.values import ConfigError
from .policy import Policy, rule_of
from .tokens import ServiceToken, service_token

DEFAULT_ALGORITHMS = ("RS256",)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _checked_url(where: str, url: str) -> str:
    """An issuer or key set address: HTTPS, or plain HTTP on loopback only (a local issuer),
    since keys fetched in the clear could be swapped on the way."""
    parsed = urlsplit(url)
    if parsed.scheme == "https" or (parsed.scheme == "http" and parsed.hostname in LOOPBACK):
        return url
    raise ConfigError(f"access: {where} {url!r}: must be https (http only on loopback)")


@dataclass(frozen=True, slots=True)
class Issuer:
    """One trusted OIDC issuer."""

    issuer: str
    audience: str
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    jwks_uri: str = ""


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """Issuers, service tokens, the policy and the key-fetching bounds."""

    issuers: tuple[Issuer, ...] = ()
    tokens: tuple[ServiceToken, ...] = ()
    policy: Policy = field(default_factory=Policy)
    leeway_seconds: int = 60
    key_fetch_seconds: float = 3.0
    key_refresh_cooldown_seconds: int = 300

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> AccessSettings:
        """From the validated ``access`` section."""
        return cls(
            issuers=tuple(
                Issuer(
                    _checked_url("issuer", i["issuer"]),
                    i["audience"],
                    tuple(i.get("algorithms", DEFAULT_ALGORITHMS)),
                    _checked_url("jwks_uri", i["jwks_uri"]) if "jwks_uri" in i else "",
                )
                for i in section.get("issuers", ())
            ),
            tokens=tuple(service_token(t) for t in section.get("tokens", ())),
            policy=Policy(tuple(rule_of(n, r) for n, r in enumerate(section.get("rules", ())))),
            leeway_seconds=section.get("leeway_seconds", 60),
            key_fetch_seconds=float(section.get("key_fetch_seconds", 3.0)),
            key_refresh_cooldown_seconds=section.get("key_refresh_cooldown_seconds", 300),
        )
