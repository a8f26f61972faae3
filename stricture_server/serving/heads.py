"""Request heads read by the event loop: the bytes so far, whether they are whole, what they ask."""

from __future__ import annotations

import re
from typing import Any

MAX_HEAD_BYTES = 64 * 1024
"""The largest request head read: request line and every header field, with their line ends."""

_CONTENT_LENGTH = re.compile(rb"\ncontent-length:([^\r\n]*)")
_HEALTH = (b"GET /healthz ", b"GET /healthz?")


def head_of(conn: Any) -> bytearray:
    """The bytes of the request head read so far on ``conn``."""
    head: bytearray | None = conn.__dict__.get("head")
    if head is None:
        head = conn.__dict__["head"] = bytearray()
    return head


def is_health_check(conn: Any) -> bool:
    """Whether the head of ``conn`` is a ``GET /healthz`` (with or without a query), no body."""
    head = head_of(conn)
    lead = conn.__dict__.get("head_scan", (0, 0))[0]
    # Looked at in place: the head read with an ingest's first bytes can be 64 KiB.
    if not head.startswith(_HEALTH, lead):
        return False
    lowered = bytes(head[lead:]).lower()
    lengths = _CONTENT_LENGTH.findall(lowered)
    return b"\ntransfer-encoding:" not in lowered and all(n.strip() == b"0" for n in lengths)


def complete(conn: Any, head: bytearray) -> bool:
    """Whether ``head`` holds a whole request head (empty lines before it are allowed).

    Each call looks only at what arrived since the last one on ``conn``: a client sending its
    head a byte per packet must not make the event loop scan the whole head at every byte.
    """
    # ``lead``: the end of the empty lines before the request line; ``seen``: bytes looked at.
    lead, seen = conn.__dict__.get("head_scan", (0, 0))
    if seen - lead < 2:
        # The empty lines may go on: fewer than two bytes past them have been looked at.
        while head.startswith(b"\r\n", lead):
            lead += 2
    found = head.find(b"\r\n\r\n", max(lead, seen - 3)) != -1
    conn.__dict__["head_scan"] = (lead, len(head))
    return found
