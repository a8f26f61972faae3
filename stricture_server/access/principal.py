"""The authenticated caller, as every later step (the policy, logs, the audit trail) sees it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request

from .grants import Grants

PRINCIPAL = "stricture_server.principal"
"""WSGI environ key holding the request's :class:`Principal` once it is authenticated."""

KEPT_CLAIMS = (
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "ref",
    "environment",
    "job_workflow_ref",
    "workflow",
    "run_id",
    "namespace_id",
    "namespace_path",
    "project_id",
    "project_path",
    "pipeline_id",
)
"""The OIDC claims the policy matches on and an audit event records (GitHub's and GitLab's)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: never holds the credential it presented."""

    kind: str
    """``token`` (a service token), ``oidc``, ``shared`` (the shared token) or ``anonymous``."""
    id: str
    """The token id, the OIDC subject, ``shared`` or ``anonymous``."""
    grants: Grants
    issuer: str = ""
    claims: Mapping[str, str] = field(default_factory=dict)
    """The :data:`KEPT_CLAIMS` the token carried, as strings."""
    rules: tuple[str, ...] = ()
    """The names of the policy rules that gave the grants (OIDC)."""

    def audit_fields(self) -> dict[str, str]:
        """The plain fields an audit event or a log line records about the caller."""
        fields = {"kind": self.kind, "id": self.id}
        if self.issuer:
            fields["issuer"] = self.issuer
        fields.update(self.claims)
        return fields

    def as_json(self) -> dict[str, Any]:
        """``GET /v1/whoami``: the identity, the rules that matched and the grants."""
        return {
            "identity": self.audit_fields(),
            "rules": list(self.rules),
            "grants": self.grants.as_json(),
        }


def principal_of(request: Request) -> Principal | None:
    """The caller of ``request`` once the app authenticated it; ``None`` on an open route."""
    found = request.environ.get(PRINCIPAL)
    return found if isinstance(found, Principal) else None


def claims_kept(payload: Mapping[str, Any]) -> dict[str, str]:
    """The kept claims of a verified token, numbers and strings alike as strings."""
    return {
        name: str(payload[name])
        for name in KEPT_CLAIMS
        if isinstance(payload.get(name), str | int) and not isinstance(payload[name], bool)
    }
