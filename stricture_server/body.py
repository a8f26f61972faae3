"""Reading a request body: bounded in size, gzip decoded, parsed as strict JSON."""

from __future__ import annotations

import zlib
from typing import Any, Protocol

import orjson

from .errors import BodyTooLarge, InvalidInput, Problem, UnsupportedEncoding, UnsupportedMediaType

CHUNK = 64 * 1024


class Readable(Protocol):
    """A byte stream: a WSGI input, a Flask request stream, a file."""

    def read(self, size: int = ..., /) -> bytes:
        """Up to ``size`` bytes; empty at the end."""


def read_body(stream: Readable, *, content_length: int | None, encoding: str, limit: int) -> bytes:
    """The decoded body, never holding more than ``limit`` bytes of it in memory.

    A declared ``Content-Length`` over the limit is refused before reading anything; for gzip
    the limit applies to the decompressed size, so a small bomb is refused as soon as its
    output passes the limit.
    """
    coding = encoding.strip().lower()
    if coding in ("", "identity"):
        if content_length is not None and content_length > limit:
            raise BodyTooLarge(limit)
        return _read_limited(stream, limit)
    if coding in ("gzip", "x-gzip"):
        return _gunzip(stream, limit)
    raise UnsupportedEncoding(encoding)


def _read_limited(stream: Readable, limit: int) -> bytes:
    data = bytearray()
    while chunk := stream.read(min(CHUNK, limit + 1 - len(data))):
        data += chunk
        if len(data) > limit:
            raise BodyTooLarge(limit)
    return bytes(data)


def _gunzip(stream: Readable, limit: int) -> bytes:
    # wbits=31: a gzip header and trailer, nothing else accepted.
    inflater = zlib.decompressobj(wbits=31)
    out = bytearray()
    try:
        while chunk := stream.read(CHUNK):
            # max_length bounds each step, so the output never grows much past the limit.
            piece = inflater.decompress(chunk, limit + 1 - len(out))
            out += piece
            while inflater.unconsumed_tail and len(out) <= limit:
                out += inflater.decompress(inflater.unconsumed_tail, limit + 1 - len(out))
            if len(out) > limit:
                raise BodyTooLarge(limit)
            if inflater.eof:
                break
        out += inflater.flush()
    except zlib.error as exc:
        raise InvalidInput("the gzip body is corrupt", [Problem("", str(exc))]) from None
    if len(out) > limit:
        raise BodyTooLarge(limit)
    if not inflater.eof:
        raise InvalidInput("the gzip body is truncated", [Problem("", "unexpected end of data")])
    return bytes(out)


def check_media_type(mimetype: str) -> None:
    """Refuse a body declared as anything but JSON; no declared type is taken as JSON."""
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(f"unsupported Content-Type {mimetype!r}; send application/json")


def parse_json(data: bytes) -> Any:
    """Strict JSON: valid UTF-8, no NaN or Infinity, nesting bounded by the parser."""
    if not data.strip():
        raise InvalidInput("the body is empty; send one JSON object", [Problem("", "empty body")])
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput("the body is not valid JSON", [Problem("", str(exc))]) from None
