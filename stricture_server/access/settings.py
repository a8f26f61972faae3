"""The ``access`` section of the configuration file, parsed into typed objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .policy import Policy, rule_of
from .tokens import ServiceToken, service_token

DEFAULT_ALGORITHMS = ("RS256",)


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
                    i["issuer"],
                    i["audience"],
                    tuple(i.get("algorithms", DEFAULT_ALGORITHMS)),
                    i.get("jwks_uri", ""),
                )
                for i in section.get("issuers", ())
            ),
            tokens=tuple(service_token(t) for t in section.get("tokens", ())),
            policy=Policy(tuple(rule_of(n, r) for n, r in enumerate(section.get("rules", ())))),
            leeway_seconds=section.get("leeway_seconds", 60),
            key_fetch_seconds=float(section.get("key_fetch_seconds", 3.0)),
            key_refresh_cooldown_seconds=section.get("key_refresh_cooldown_seconds", 300),
        )
