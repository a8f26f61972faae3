"""Who made a request, as the audit trail records it: a plain mapping of strings, never a secret.

The caller is the principal the access check found (:func:`..access.principal.principal_of`):
a service token by its id, an OIDC identity by issuer, subject and the claims kept, the shared
token as ``shared``. A request refused its credentials (401) has no principal: anonymous.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..access.principal import Principal

ANONYMOUS = {"kind": "anonymous"}
"""A request whose credentials were refused, or one on a route that asks for none."""


def identity_of(principal: Principal | None, status: int) -> Mapping[str, str]:
    """The caller's identity as an audit event records it."""
    if principal is None or status == 401:
        return ANONYMOUS
    return principal.audit_fields()
