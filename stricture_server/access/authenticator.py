"""Policy mode: a bearer credential becomes a :class:`Principal` with its grants."""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from werkzeug import Request

from ..config.values import Secret
from ..errors import Unauthenticated
from .grants import ALL
from .principal import Principal, claims_kept
from .settings import AccessSettings
from .tokens import PREFIX, TokenBook

if TYPE_CHECKING:
    from .oidc import OidcVerifier

SHARED = "shared"


def bearer(request: Request) -> str:
    """The bearer credential of ``request``, or :class:`Unauthenticated` if there is none."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("a bearer token is required")
    return credential.strip()


def shared_principal() -> Principal:
    """The caller holding the shared token (``STRICTURE_SERVER_INGEST_TOKEN``): every scope."""
    return Principal(kind=SHARED, id=SHARED, grants=ALL)


def is_shared(credential: str, tokens: tuple[bytes, ...]) -> bool:
    """Whether ``credential`` is one of the shared tokens, compared in constant time."""
    given = credential.encode("utf-8", "surrogateescape")
    matched = False
    # Every token is compared, without stopping early: timing tells nothing of which matched.
    for token in tokens:
        matched |= hmac.compare_digest(given, token)
    return matched


class PolicyAuth:
    """Service tokens, OIDC tokens of the configured issuers, and the shared token if set."""

    def __init__(
        self,
        access: AccessSettings,
        shared: tuple[Secret, ...] = (),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.access = access
        self.book = TokenBook(access.tokens)
        self.shared = tuple(t.value.encode() for t in shared)
        self.now = now
        self._oidc: OidcVerifier | None = None
        self._oidc_lock = threading.Lock()

    @property
    def oidc(self) -> OidcVerifier:
        """The OIDC verifier, imported on the first token that needs it: one per process,
        whichever thread asks first, so its key cache is shared."""
        with self._oidc_lock:
            if self._oidc is None:
                from .oidc import OidcVerifier

                self._oidc = OidcVerifier(self.access)
            return self._oidc

    def authenticate(self, request: Request) -> Principal:
        """The caller, or :class:`Unauthenticated` saying why not."""
        credential = bearer(request)
        if credential.startswith(PREFIX):
            token = self.book.find(credential, self.now())
            return Principal(kind="token", id=token.id, grants=token.grants)
        if self.shared and is_shared(credential, self.shared):
            return shared_principal()
        if self.access.issuers:
            from .oidc import looks_like_jwt

            if looks_like_jwt(credential):
                return self._oidc_principal(credential)
        raise Unauthenticated("the bearer token is not valid")

    def _oidc_principal(self, credential: str) -> Principal:
        issuer, payload = self.oidc.verify(credential)
        claims = claims_kept(payload)
        subject = payload["sub"]
        grants, rules = self.access.policy.grants_for(issuer.issuer, subject, claims)
        return Principal(
            kind="oidc",
            id=subject,
            grants=grants,
            issuer=issuer.issuer,
            claims=claims,
            rules=rules,
        )
