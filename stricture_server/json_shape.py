"""The size of a JSON text in values and nesting, measured on its bytes before it is parsed.

Parsing builds one Python object per value: a 10 MiB body of empty arrays is 3.5 million lists
and half a gigabyte. Measuring first lets such a body be refused before any object exists.

The measure is made with C-speed ``bytes`` operations, not a Python loop over the bytes: the
escape pairs ``\\\\`` and ``\\"`` are removed (so every quote left opens or closes a string),
everything but quotes and ``[ ] { } ,`` is deleted, the strings that hold none of those
characters then collapse to ``""`` and are removed, and the few strings that hold some are cut
out with one regular expression. What is left is the structure outside strings.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass
from itertools import accumulate

_KEPT = b'"[]{},'
_DROP = bytes(c for c in range(256) if c not in _KEPT)
# Removing two adjacent quotes keeps every other quote's parity (opening or closing), so
# `""` can be removed wherever it stands, inside or between strings.
_STRING = re.compile(rb'"[^"]*"')
_ESCAPE = re.compile(rb'\\[\\"]')
# +1 for an opening bracket, -1 (0xFF as a signed byte) for a closing one.
_STEPS = bytearray(256)
_STEPS[ord("[")] = _STEPS[ord("{")] = 1
_STEPS[ord("]")] = _STEPS[ord("}")] = 0xFF
_STEP = bytes(_STEPS)


@dataclass(frozen=True, slots=True)
class Shape:
    """How many values a JSON text holds, and how deeply its arrays and objects nest."""

    values: int
    """The top-level value plus one per ``,``, ``[`` and ``{`` outside strings: the number of
    values, or more when arrays or objects are empty (each of those counts twice)."""
    depth: int
    """The deepest nesting of arrays and objects (``[]`` is 1, ``[[]]`` is 2)."""


def shape(data: bytes, *, max_values: int) -> Shape:
    """The shape of ``data``; its depth is only measured when its values are within bounds.

    For a text that is not valid JSON the figures are still an upper bound on what a parser
    builds before it stops at its first error: the part before that error is measured exactly.
    """
    escapes = data.count(b"\\")
    if escapes:
        # Removing each escaped backslash or quote, left to right, leaves every quote a string
        # delimiter. The expression is quicker for a few escapes; the two replaces (pairs of
        # backslashes first, then escaped quotes: the same result) cost no more for millions.
        if escapes < len(data) >> 8:
            data = _ESCAPE.sub(b"", data)
        else:
            data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = data.translate(None, _DROP).replace(b'""', b"")
    quotes = kept.count(b'"')
    if quotes:
        # Every key has a value, so there are at least half as many values as strings: a
        # text with too many strings is refused before the (per string) cut below.
        if quotes // 4 > max_values:
            return Shape(quotes // 4, 0)
        kept = _STRING.sub(b"", kept)
    values = 1 + kept.count(b",") + kept.count(b"[") + kept.count(b"{")
    if values > max_values:
        return Shape(values, 0)
    steps = array("b", kept.translate(_STEP, b'",'))
    return Shape(values, max(accumulate(steps), default=0))
