"""The enforcement seam: a principal, an action and a target in; allowed, or :class:`Forbidden`."""

from __future__ import annotations

from ..errors import Forbidden
from .grants import Target
from .principal import Principal


def require(principal: Principal, action: str, target: Target, *, listing: bool = False) -> None:
    """Return if ``principal`` may do ``action`` on ``target`` (on some part of it for a
    listing, which then shows only those parts); raise :class:`Forbidden` if not."""
    grants = principal.grants
    allowed = grants.touches(action, target) if listing else grants.allows(action, target)
    if not allowed:
        raise Forbidden(f"{principal.kind} {principal.id}", action, str(target))


def may_read(principal: Principal, organization: str, project: str, service: str) -> bool:
    """Whether ``principal`` may read one service: a listing shows only those."""
    return principal.grants.allows("read", Target(organization, project, service))
