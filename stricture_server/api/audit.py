"""The audit endpoints: an organization's events, the server's own, and the seal chain's
check."""

from __future__ import annotations

from werkzeug import Request, Response

from ..audit.events import SERVER_LOG
from ..audit.trail import AuditTrail
from ..blast.answers import organization_of
from ..storage import Storage
from .requests import Fields, answer_query


class AuditEndpoints:
    """Reads of the audit trail; ``App.handle`` writes it."""

    def __init__(self, trail: AuditTrail, storage: Storage, prefix: str) -> None:
        self.trail = trail
        self.storage = storage
        self.prefix = prefix

    def audit_events(self, request: Request, fields: Fields, organization: str) -> Response:
        """``GET /v1/audit/{org}``: the organization's audit events, newest first."""
        return answer_query(request, lambda a: self.trail.page(organization_of(organization), a))

    def audit_verify(self, request: Request, fields: Fields, organization: str) -> Response:
        """``GET /v1/audit/{org}/verify``: the seal chain checked, and what breaks it."""
        from ..audit.verify import verify_query

        storage, prefix = self.storage, self.prefix
        return answer_query(
            request, lambda a: verify_query(storage, prefix, organization_of(organization), a)
        )

    def server_audit_events(self, request: Request, fields: Fields) -> Response:
        """``GET /v1/audit``: audit events of requests that name no organization."""
        return answer_query(request, lambda a: self.trail.page(SERVER_LOG, a))
