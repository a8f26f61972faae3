"""System ids and their roots, as the Stricture CLI spells them."""

from __future__ import annotations


def system_id(value: object) -> str:
    """The system id of a ``source_system``-like value: trimmed, lower-cased; ``""`` for none.

    ``CommerceGateway:api-service`` and `` commercegateway:API-service`` name one system.
    """
    if not isinstance(value, str):
        return ""
    return value.strip().lower()


def root(system: str) -> str:
    """The root of a system id: the part before its first ``:`` (the id itself without one)."""
    return system.partition(":")[0]
