"""Authenticators, chosen by ``STRICTURE_SERVER_AUTH_MODE``."""

from __future__ import annotations

import hmac
from typing import Protocol

from werkzeug import Request

from .errors import Unauthenticated
from .settings import Secret, Settings


class Authenticator(Protocol):
    """Decides whether a request may read or write records."""

    def authenticate(self, request: Request) -> None:
        """Return if the request is allowed; raise :class:`Unauthenticated` if not."""


class NoAuth:
    """Every request is allowed (``none`` mode: a private network or local use)."""

    def authenticate(self, request: Request) -> None:
        """Allow."""


class TokenAuth:
    """``Authorization: Bearer <token>`` against one or more configured tokens."""

    def __init__(self, tokens: tuple[Secret, ...]) -> None:
        self._tokens = tuple(t.value.encode() for t in tokens)

    def authenticate(self, request: Request) -> None:
        """Allow a request carrying one of the tokens; compared in constant time."""
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthenticated("a bearer token is required")
        given = credential.strip().encode("utf-8", "surrogateescape")
        # Compare against every token, without stopping early, so timing says nothing about
        # which token (if any) matched.
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(given, token)
        if not matched:
            raise Unauthenticated("the bearer token is not valid")


def make_authenticator(settings: Settings) -> Authenticator:
    """The authenticator for ``settings.auth_mode``."""
    if settings.auth_mode == "token":
        return TokenAuth(settings.ingest_tokens)
    return NoAuth()
