"""Scoped service tokens: made once by ``stricture-server token create``, stored as a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import Unauthenticated
from .grants import Grants, parse_scope

PREFIX = "stk_"
"""Every service token starts with it, so secret scanners can find a leaked one."""
HASH_PREFIX = "sha256:"
TOKEN_BYTES = 32


def new_token() -> str:
    """A new random service token: 256 bits after the prefix."""
    return PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def new_token_id() -> str:
    """A short random id naming a token in logs, audit events and the configuration file."""
    return "t-" + secrets.token_hex(4)


def token_hash(token: str) -> str:
    """The stored form of a token. One SHA-256 is enough: the token is 256 random bits, not a
    password, so there is nothing for a slow hash to protect against guessing."""
    return HASH_PREFIX + hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class ServiceToken:
    """One configured token: never the token itself, only its hash."""

    id: str
    hash: str
    grants: Grants
    scopes: tuple[str, ...]
    note: str = ""
    expires: datetime | None = None

    def entry(self) -> dict[str, Any]:
        """The configuration file entry for this token."""
        entry: dict[str, Any] = {"id": self.id, "hash": self.hash, "scopes": list(self.scopes)}
        if self.note:
            entry["note"] = self.note
        if self.expires is not None:
            entry["expires"] = self.expires.isoformat().replace("+00:00", "Z")
        return entry


def service_token(entry: Mapping[str, Any]) -> ServiceToken:
    """A token from its configuration entry (shape validated by the schema)."""
    scopes = tuple(entry["scopes"])
    expires = entry.get("expires")
    return ServiceToken(
        id=entry["id"],
        hash=entry["hash"],
        grants=Grants(tuple(parse_scope(s) for s in scopes)),
        scopes=scopes,
        note=entry.get("note", ""),
        expires=_aware(datetime.fromisoformat(expires)) if expires else None,
    )


def _aware(when: datetime) -> datetime:
    # The schema asks for an RFC 3339 time (with an offset); a bare one is read as UTC rather
    # than failing every comparison with an aware "now".
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class TokenBook:
    """The configured service tokens, looked up by hash in constant time."""

    def __init__(self, tokens: Iterable[ServiceToken]) -> None:
        self.tokens = tuple(tokens)

    def find(self, credential: str, now: datetime) -> ServiceToken:
        """The token ``credential`` is, or :class:`Unauthenticated` saying why not."""
        given = token_hash(credential).encode()
        found = None
        # Every entry is compared, without stopping at a match: timing tells nothing of which.
        for token in self.tokens:
            if hmac.compare_digest(given, token.hash.encode()):
                found = token
        if found is None:
            raise Unauthenticated("the service token is not known (revoked or mistyped?)")
        if found.expires is not None and now >= found.expires:
            raise Unauthenticated(f"the service token {found.id} expired")
        return found
