"""Identities (organization, project, service, run id) as they appear in keys and paths."""

from __future__ import annotations

import re
import unicodedata

import uuid_utils

_OUTSIDE = re.compile(r"[^a-z0-9]+")

MAX_LENGTH = 128


ALLOWED = "ASCII letters and digits (punctuation, symbols and spaces separate words)"
"""What a name may hold, as error messages say it."""


def sanitize(raw: str) -> str:
    """Trim, lower-case, turn each run of characters outside ``[a-z0-9]`` into one ``-``.

    ``"  ACME, Inc "`` gives ``acme-inc`` and ``"../../etc"`` gives ``etc``: the result is
    always safe as one path segment and one key segment. It may be empty.

    A :class:`ValueError` (see :func:`foreign`) when ``raw`` holds a letter, digit or mark
    outside ASCII: dropping it would give ``"Σacme"`` and ``"日本acme"`` the same key, and
    lower-casing would turn the Kelvin sign into ``k``. Refusing them keeps names injective:
    two names whose letters or digits differ (other than in case) never share a key.
    """
    bad = foreign(raw)
    if bad:
        # Not the whole name: a path segment can be kilobytes long, and the caller says which.
        raise ValueError(f"holds {bad!r}: names take only {ALLOWED}")
    return _OUTSIDE.sub("-", raw.strip().lower()).strip("-")


def foreign(raw: str) -> str:
    """The letters, digits and combining marks of ``raw`` outside ASCII, each once, in order."""
    if raw.isascii():
        return ""
    # Unicode categories L* (letters), M* (marks: NFD "café" is "cafe" and a mark), N* (digits
    # and other numbers); punctuation, symbols, spaces and controls only separate words.
    found = (ch for ch in raw if not ch.isascii() and unicodedata.category(ch)[0] in "LMN")
    return "".join(dict.fromkeys(found))


def new_run_id() -> str:
    """A run id unique across workers and machines that sorts by creation time (UUIDv7)."""
    return str(uuid_utils.uuid7())
