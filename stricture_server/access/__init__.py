"""Identities and the access policy: who is calling, and what they may do.

A caller is authenticated by a bearer credential (a scoped service token, an OIDC token from
CI, or the shared token) into a :class:`Principal`; the policy gives it :class:`Grants`, and
every route is checked against its (action, target) description in :mod:`.routes`. Only
:mod:`.oidc` imports the JWT library, and only when an issuer is configured.
"""

from .grants import ADMIN, READ, WRITE, Grant, Grants, Target
from .principal import Principal, principal_of

__all__ = ["ADMIN", "READ", "WRITE", "Grant", "Grants", "Principal", "Target", "principal_of"]
