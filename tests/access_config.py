"""Configuration files with an access section, and service tokens to go with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from stricture_server.access.tokens import new_token, token_hash


def token_entry(token_id: str, *scopes: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    """A new service token and its configuration entry."""
    token = new_token()
    return token, {"id": token_id, "hash": token_hash(token), "scopes": list(scopes), **extra}


def write_config(path: Path, access: dict[str, Any]) -> Path:
    """A configuration file holding ``access``."""
    path.write_bytes(orjson.dumps({"version": 1, "access": access}))
    return path


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of ``token``."""
    return {"Authorization": f"Bearer {token}"}
