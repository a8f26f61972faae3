"""The size of a JSON text in values and nesting, measured on its bytes before it is parsed.

Parsing builds one Python object per value: a 10 MiB body of empty arrays is 3.5 million lists
and half a gigabyte. Measuring first lets such a body be refused before any object exists.

The measure is made with C-speed ``bytes`` operations, not a Python loop over the bytes:
everything but quotes, backslashes and ``[ ] { } ,`` is deleted; when a quote or a backslash
is escaped (``\\"`` or ``\\\\`` in the text) the escape pairs are removed first, so every quote
left opens or closes a string; the strings that hold none of the structural characters then
collapse to ``""`` and are removed, and the few that hold some are cut out with one regular
expression. What is left is the structure outside strings.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass
from itertools import accumulate

_KEPT = b'"[]{},\\'
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
    kept = data.translate(None, _DROP)
    if b"\\" in kept:
        # Without an escaped quote or backslash (\u0041 is common, \" rarer) no quote
        # is escaped, and the backslashes can simply go.
        if _escapes_delimiter(data, kept.count(b"\\")):
            kept = _unescaped(data).translate(None, _DROP)
        kept = kept.replace(b"\\", b"")
    kept = kept.replace(b'""', b"")
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


def _escapes_delimiter(data: bytes, backslashes: int) -> bool:
    """Whether ``data`` holds an escaped backslash or quote (what :data:`_ESCAPE` finds)."""
    if backslashes >= len(data) >> 8:
        return _ESCAPE.search(data) is not None
    # A few backslashes (\u0041, \n): looking at the byte after each, found by ``find``
    # (memchr), costs a tenth of running the expression over every byte of a 300 KB body.
    at = data.find(b"\\")
    while at >= 0:
        if data[at + 1 : at + 2] in (b"\\", b'"'):
            return True
        at = data.find(b"\\", at + 2)
    return False


def _unescaped(data: bytes) -> bytes:
    """``data`` without its escaped backslashes and quotes: every quote left is a delimiter."""
    escapes = data.count(b"\\")
    # Removing each pair left to right. The expression is quicker for a few escapes; two
    # replaces (pairs of backslashes first, then escaped quotes: the same result) cost no
    # more for millions.
    if escapes < len(data) >> 8:
        return _ESCAPE.sub(b"", data)
    return data.replace(b"\\\\", b"").replace(b'\\"', b"")
