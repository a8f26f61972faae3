"""Reading a request body: bounded in size, gzip decoded, measured, parsed as strict JSON."""

from __future__ import annotations

import zlib
from typing import Any, Protocol

import orjson

from ..errors import (
    BodyTimedOut,
    BodyTooLarge,
    InvalidInput,
    Problem,
    TooManyValues,
    UnsupportedEncoding,
    UnsupportedMediaType,
)
from .json_shape import shape

CHUNK = 64 * 1024
WHOLE_READ = 1024 * 1024
"""The most of a declared length asked for in one read."""


class Readable(Protocol):
    """A byte stream: a WSGI input, a Flask request stream, a file."""

    def read(self, size: int = ..., /) -> bytes:
        """Up to ``size`` bytes; empty at the end."""


def read_body(stream: Readable, *, content_length: int | None, encoding: str, limit: int) -> bytes:
    """The decoded body, never holding more than ``limit`` bytes of it in memory.

    A declared ``Content-Length`` over the limit is refused before reading anything; for gzip
    the limit applies to the decompressed size, so a small bomb is refused as soon as its
    output passes the limit. A body that ends before its declared length, or a client that
    drops or stalls mid-body, is refused: a truncated body is never taken for a whole one.
    """
    coding = encoding.strip().lower()
    if coding not in ("", "identity", "gzip", "x-gzip"):
        raise UnsupportedEncoding(encoding)
    if coding in ("", "identity") and content_length is not None and content_length > limit:
        raise BodyTooLarge(limit)
    source = _Counted(stream)
    if coding in ("", "identity"):
        data = _read_limited(source, limit, content_length or 0)
    else:
        data = _gunzip(source, limit)
    if content_length is not None and source.count != content_length:
        raise _incomplete(f"received {source.count} of the {content_length} bytes declared")
    return data


def _incomplete(detail: str) -> InvalidInput:
    return InvalidInput("the request body was not received in full", [Problem("", detail)])


class _Counted:
    """Counts the bytes read; a stalled or dropped client becomes :class:`InvalidInput`."""

    def __init__(self, stream: Readable) -> None:
        self.stream = stream
        self.count = 0

    def read(self, size: int) -> bytes:
        try:
            chunk = self.stream.read(size)
        except TimeoutError:
            raise BodyTimedOut(
                "the client went silent in the middle of the request body; send it again"
            ) from None
        except OSError as exc:  # a socket timeout or reset in the middle of the body
            raise _incomplete(f"the client stalled or disconnected ({exc})") from None
        except Exception as exc:
            # The server's own decoding of the body failed: gunicorn raises its parser errors
            # (a bad chunk size, a missing chunk terminator) from this read. The server is
            # not imported here, so anything the stream raises is the client's malformed body.
            raise InvalidInput(
                "the request body could not be read", [Problem("", f"{type(exc).__name__}: {exc}")]
            ) from None
        self.count += len(chunk)
        return chunk


def _read_limited(stream: _Counted, limit: int, declared: int) -> bytes:
    # What is declared (within the limit, checked before) is asked for at once, up to
    # WHOLE_READ at a time, then 64 KiB at a time past it: a 300 KB body is one read and no
    # copy, not five reads and two copies; a 10 MB one is still held about twice at most.
    chunks: list[bytes] = []
    size = 0
    while True:
        wanted = max(CHUNK, min(declared - size, WHOLE_READ))
        chunk = stream.read(min(wanted, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
    return b"".join(chunks)


def _gunzip(stream: _Counted, limit: int) -> bytes:
    # wbits=31: a gzip header and trailer, nothing else accepted.
    inflater = zlib.decompressobj(wbits=31)
    out = bytearray()
    try:
        while chunk := stream.read(CHUNK):
            if inflater.eof:
                raise InvalidInput("the gzip body is corrupt", [Problem("", "data after its end")])
            # max_length bounds each step, so the output never grows much past the limit.
            out += inflater.decompress(chunk, limit + 1 - len(out))
            while inflater.unconsumed_tail and len(out) <= limit:
                out += inflater.decompress(inflater.unconsumed_tail, limit + 1 - len(out))
            if len(out) > limit:
                raise BodyTooLarge(limit)
            if inflater.unused_data:
                raise InvalidInput("the gzip body is corrupt", [Problem("", "data after its end")])
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


MAX_DEPTH = 64
"""Deepest nesting of arrays and objects in a body. The real corpus nests 6 levels; anything
past the limit is refused before parsing, well inside what the serialiser stores (254)."""


def parse_json(data: bytes, *, max_values: int) -> Any:
    """Strict JSON: valid UTF-8, no NaN or Infinity, at most ``max_values`` values and
    :data:`MAX_DEPTH` levels, both measured before any object is built."""
    if not data.strip():
        raise InvalidInput("the body is empty; send one JSON object", [Problem("", "empty body")])
    found = shape(data, max_values=max_values)
    if found.values > max_values:
        raise TooManyValues(max_values)
    if found.depth > MAX_DEPTH:
        problem = Problem("", f"arrays and objects nested deeper than {MAX_DEPTH} levels")
        raise InvalidInput("the body is nested too deeply", [problem])
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _not_utf8(data) or InvalidInput(
            "the body is not valid JSON", [Problem("", str(exc))]
        ) from None


def _not_utf8(data: bytes) -> InvalidInput | None:
    # orjson reports every undecodable byte as "surrogates not allowed"; Python's decoder says
    # which byte, where, and why. Only run once parsing failed, so valid bodies never pay it.
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        detail = f"byte 0x{byte:02x} at offset {exc.start}: {exc.reason}"
        return InvalidInput("the body is not valid UTF-8", [Problem("", detail)])
    return None
