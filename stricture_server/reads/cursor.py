"""Opaque page cursors: base64url of the last listed entry, checked before any use.

A cursor carries the kind of listing it belongs to, an entry name and an offset (the next
change within a run, for the change feed). It only ever becomes a ``start_after`` under the
listing's own prefix, and only after its name has been checked by the caller's parser, so a
tampered cursor is a 400, never a key elsewhere in the store.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InvalidInput, Problem

_TEXT = re.compile(r"^[A-Za-z0-9_-]{4,1400}$")
_PLAIN = re.compile(r"^(?P<kind>[a-z]):(?P<offset>0|[1-9][0-9]{0,8}):(?P<name>[0-9a-z!.-]{1,600})$")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts: after (or, with an offset, inside) the named entry."""

    kind: str
    name: str
    offset: int = 0

    def encode(self) -> str:
        """The cursor as an opaque URL-safe string."""
        plain = f"{self.kind}:{self.offset}:{self.name}".encode()
        return base64.urlsafe_b64encode(plain).rstrip(b"=").decode()


def decode(text: str, kind: str, valid: Callable[[str], bool]) -> Cursor:
    """The cursor in ``text`` if it is one of ``kind`` whose name ``valid`` accepts."""
    bad = InvalidInput("invalid cursor", [Problem("?cursor", "not a cursor this listing gave")])
    if not _TEXT.match(text):
        raise bad
    try:
        plain = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    match = _PLAIN.match(plain)
    if match is None or match["kind"] != kind or not valid(match["name"]):
        raise bad
    return Cursor(kind, match["name"], int(match["offset"]))
