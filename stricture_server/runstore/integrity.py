"""Checks of stored objects against what they claim to be: a record against its digest, a claim
against its shape.

A record is stored as ``{"digest":"sha256:…","received_at":"…",<content>}`` where ``<content>``
is the canonical JSON the digest covers (:meth:`NewRecord.stored_bytes`). The content is found
again from the bytes, without parsing them, so the check is one sha256 pass over the record:
a truncated, padded or edited record fails it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import orjson

_HEAD = re.compile(rb'^\{"digest":"(sha256:[0-9a-f]{64})","received_at":"[^"\\]*",')


class Corrupt(ValueError):
    """A stored object that is not what it should be; the message says why."""


def record_digest(data: bytes) -> str:
    """The digest of a stored record, checked against its content, or :class:`Corrupt`."""
    head = _HEAD.match(data)
    if head is None:
        raise Corrupt("the record does not start with its digest and received_at")
    digest = head[1].decode()
    # The content's opening brace was replaced by the head; hashed through a view, no copy.
    content = hashlib.sha256(b"{")
    content.update(memoryview(data)[head.end() :])
    if "sha256:" + content.hexdigest() != digest:
        raise Corrupt("the record's content does not match its digest")
    return digest


@dataclass(frozen=True, slots=True)
class Claim:
    """A run's claim: the digest of its record, the record's key and when it was received."""

    digest: str
    key: str
    received_at: str


def parse_claim(data: bytes) -> Claim:
    """The claim stored as ``data``, or :class:`Corrupt`."""
    try:
        found = orjson.loads(data)
        claim = Claim(found["digest"], found["key"], found["received_at"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise Corrupt(
            f"the claim is not a JSON object with digest, key and received_at: {exc!r}"
        ) from None
    if not all(isinstance(value, str) for value in (claim.digest, claim.key, claim.received_at)):
        raise Corrupt("the claim's digest, key and received_at are not all strings")
    return claim
