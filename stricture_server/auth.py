"""Authenticators, chosen by ``STRICTURE_SERVER_AUTH_MODE``: a request becomes its caller."""

from __future__ import annotations

from typing import Protocol

from werkzeug import Request

from .access.authenticator import bearer, is_shared, shared_principal
from .access.grants import ALL
from .access.principal import Principal
from .errors import Unauthenticated
from .settings import Secret, Settings

ANONYMOUS = Principal(kind="anonymous", id="anonymous", grants=ALL)
"""The caller when authentication is off: everything is allowed."""


class Authenticator(Protocol):
    """Decides who is calling; what they may do is in the principal's grants."""

    def authenticate(self, request: Request) -> Principal:
        """The caller; raise :class:`Unauthenticated` if the credential is missing or bad."""


class NoAuth:
    """Every request is allowed (``none`` mode: a private network or local use)."""

    def authenticate(self, request: Request) -> Principal:
        """Allow, as the anonymous caller."""
        return ANONYMOUS


class TokenAuth:
    """``Authorization: Bearer <token>`` against one or more configured tokens."""

    def __init__(self, tokens: tuple[Secret, ...]) -> None:
        self._tokens = tuple(t.value.encode() for t in tokens)

    def authenticate(self, request: Request) -> Principal:
        """Allow a request carrying one of the tokens, as a token with every scope."""
        if not is_shared(bearer(request), self._tokens):
            raise Unauthenticated("the bearer token is not valid")
        return shared_principal()


def make_authenticator(settings: Settings) -> Authenticator:
    """The authenticator for ``settings.auth_mode``."""
    if settings.auth_mode == "policy":
        from .access.authenticator import PolicyAuth
        from .access.settings import AccessSettings

        access = AccessSettings.from_section(settings.config.section("access") or {})
        return PolicyAuth(access, settings.ingest_tokens)
    if settings.auth_mode == "token":
        return TokenAuth(settings.ingest_tokens)
    return NoAuth()
