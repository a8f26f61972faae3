"""Identities (organization, project, service, run id) as they appear in keys and paths."""

from __future__ import annotations

import re

import uuid_utils

_OUTSIDE = re.compile(r"[^a-z0-9]+")

MAX_LENGTH = 128


def sanitize(raw: str) -> str:
    """Trim, lower-case, turn each run of characters outside ``[a-z0-9]`` into one ``-``.

    ``"  ACME, Inc "`` gives ``acme-inc`` and ``"../../etc"`` gives ``etc``: the result is
    always safe as one path segment and one key segment. It may be empty.
    """
    return _OUTSIDE.sub("-", raw.strip().lower()).strip("-")


def new_run_id() -> str:
    """A run id unique across workers and machines that sorts by creation time (UUIDv7)."""
    return str(uuid_utils.uuid7())
