"""Who made a request, as the audit trail records it: a plain mapping of strings, never a secret.

The access policy names its callers itself (a token's id, an OIDC issuer and subject...) and
hands that mapping to :meth:`App.handle` through the request's fields (``fields["identity"]``).
Until then, the one shared-token authenticator tells only whether a request was let in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ANONYMOUS = {"kind": "anonymous"}
"""A request to a server without authentication, or one whose credentials were refused."""
SHARED_TOKEN = {"kind": "shared-token"}
"""A request let in by one of ``STRICTURE_SERVER_INGEST_TOKEN``'s tokens (which, not said)."""


def identity_of(auth_mode: str, status: int, fields: Mapping[str, Any]) -> Mapping[str, str]:
    """The caller's identity: the one the endpoint found, else what the auth mode implies."""
    given = fields.get("identity")
    if isinstance(given, Mapping):
        return {str(k): str(v) for k, v in given.items()}
    if auth_mode == "none" or status == 401:
        return ANONYMOUS
    return SHARED_TOKEN
