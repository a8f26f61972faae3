"""Reading bodies: the cap, gzip, and strict JSON."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from stricture_server.errors import (
    BodyTimedOut,
    BodyTooLarge,
    InvalidInput,
    TooManyValues,
    UnsupportedEncoding,
    UnsupportedMediaType,
)
from stricture_server.ingest.body import (
    MAX_DEPTH,
    WHOLE_READ,
    check_media_type,
    parse_json,
    read_body,
)

LIMIT = 200_000


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes a read and counts what was read."""

    def __init__(self, data: bytes, step: int = 7000) -> None:
        self.data = data
        self.step = step
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = self.step if size < 0 else min(size, self.step)
        chunk = self.data[self.consumed : self.consumed + n]
        self.consumed += len(chunk)
        return chunk


def read(data: bytes, encoding: str = "", length: int | None = None) -> bytes:
    return read_body(Trickle(data), content_length=length, encoding=encoding, limit=LIMIT)


def test_identity_up_to_the_limit() -> None:
    data = b"x" * LIMIT
    assert read(data) == data
    with pytest.raises(BodyTooLarge):
        read(data + b"x")


@pytest.mark.parametrize("step", [7000, 64 * 1024, LIMIT])
def test_a_declared_length_is_read_whole_however_the_stream_hands_it_out(step: int) -> None:
    data = bytes(range(256)) * (LIMIT // 256)
    stream = Trickle(data, step)
    assert read_body(stream, content_length=len(data), encoding="", limit=LIMIT) == data
    # More bytes than declared are not taken for the body.
    with pytest.raises(InvalidInput, match="not received in full"):
        read_body(Trickle(data, step), content_length=len(data) - 1, encoding="", limit=LIMIT)


def test_a_long_declared_length_is_asked_for_a_mebibyte_at_a_time() -> None:
    data = bytes(range(256)) * (10 * WHOLE_READ // 256 + 3)
    asked: list[int] = []

    class Asked(Trickle):
        def read(self, size: int = -1) -> bytes:
            asked.append(size)
            return super().read(size)

    stream = Asked(data, len(data))
    assert read_body(stream, content_length=len(data), encoding="", limit=len(data)) == data
    assert max(asked) == WHOLE_READ


def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    stream = Trickle(b"x" * 10)
    with pytest.raises(BodyTooLarge):
        read_body(stream, content_length=LIMIT + 1, encoding="", limit=LIMIT)
    assert stream.consumed == 0


def test_a_long_stream_is_not_read_past_the_limit() -> None:
    stream = Trickle(b"x" * (LIMIT * 50))
    with pytest.raises(BodyTooLarge):
        read_body(stream, content_length=None, encoding="identity", limit=LIMIT)
    assert stream.consumed <= LIMIT + 1


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", "x-gzip"])
def test_gzip_is_decoded(encoding: str) -> None:
    data = bytes(range(256)) * 700
    assert read(gzip.compress(data), encoding) == data


def test_gzip_limit_counts_decompressed_bytes() -> None:
    with pytest.raises(BodyTooLarge):
        read(gzip.compress(b"a" * (LIMIT + 1)), "gzip")


def test_a_gzip_bomb_is_stopped_early() -> None:
    bomb = gzip.compress(b"\0" * (LIMIT * 500), compresslevel=9)
    stream = Trickle(bomb, step=64 * 1024)
    with pytest.raises(BodyTooLarge):
        read_body(stream, content_length=len(bomb), encoding="gzip", limit=LIMIT)
    assert stream.consumed < len(bomb)


@pytest.mark.parametrize("data", [b"not gzip at all", gzip.compress(b"{}" * 5000)[:-20]])
def test_broken_gzip_is_invalid_input(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        read(data, "gzip")


@pytest.mark.parametrize("encoding", ["br", "deflate", "gzip, br", "compress"])
def test_other_encodings_are_refused(encoding: str) -> None:
    with pytest.raises(UnsupportedEncoding):
        read(b"{}", encoding)


@pytest.mark.parametrize("mimetype", ["", "application/json", "application/vnd.lineage+json"])
def test_json_media_types(mimetype: str) -> None:
    check_media_type(mimetype)


@pytest.mark.parametrize("mimetype", ["text/plain", "application/x-www-form-urlencoded"])
def test_other_media_types(mimetype: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        check_media_type(mimetype)


@pytest.mark.parametrize("data", [b"", b"  \n", b"{", b"[1,]", b'{"a": nan}', b"\xef\xbb\xbf{}"])
def test_strict_json(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_json(data, max_values=100)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b'{"a": "\xed\xa0\x80"}', "byte 0xed at offset 7: invalid continuation byte"),
        (b'{"a": "\xff"}', "byte 0xff at offset 7: invalid start byte"),
        (b'{"a": "caf\xc3"}', "byte 0xc3 at offset 10: invalid continuation byte"),
    ],
)
def test_invalid_utf8_is_named_as_such(data: bytes, where: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_json(data, max_values=100)
    assert caught.value.message == "the body is not valid UTF-8"
    assert caught.value.problems[0].message == where


def test_values_over_the_limit_are_refused_before_parsing() -> None:
    assert parse_json(b"[[],[],[]]", max_values=7) == [[], [], []]
    with pytest.raises(TooManyValues) as caught:
        parse_json(b"[[],[],[],[]]", max_values=7)
    assert caught.value.limit == 7


def test_commas_and_brackets_in_strings_are_not_values() -> None:
    document = ["[[[,,,]]]", '{\\"[,]"}', {"k,[": "]"}]
    assert parse_json(json.dumps(document).encode(), max_values=5) == document


def test_nesting_past_the_limit_is_refused() -> None:
    deep = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert parse_json(deep, max_values=1000)
    with pytest.raises(InvalidInput) as caught:
        parse_json(b"[" + deep + b"]", max_values=1000)
    assert caught.value.message == "the body is nested too deeply"


def test_a_body_shorter_than_its_content_length_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        read(b'{"a": 1}', length=100)
    assert "8 of the 100 bytes" in caught.value.problems[0].message
    assert read(b'{"a": 1}', length=8) == b'{"a": 1}'


def test_a_gzip_body_shorter_than_its_content_length_is_refused() -> None:
    packed = gzip.compress(b"{}")
    assert read(packed, "gzip", length=len(packed)) == b"{}"
    with pytest.raises(InvalidInput):
        read(packed, "gzip", length=len(packed) + 10)


def test_data_after_the_gzip_stream_is_refused() -> None:
    with pytest.raises(InvalidInput):
        read(gzip.compress(b"{}") + b"trailing", "gzip")


class Failing(io.RawIOBase):
    """A body stream whose every read raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise self.error


@pytest.mark.parametrize("encoding", ["", "gzip"])
def test_a_stalled_client_is_a_timeout(encoding: str) -> None:
    # A client socket that times out in the middle of the body.
    stalls = Failing(TimeoutError("timed out"))
    with pytest.raises(BodyTimedOut, match="went silent"):
        read_body(stalls, content_length=100, encoding=encoding, limit=LIMIT)


@pytest.mark.parametrize("encoding", ["", "gzip"])
def test_a_body_the_server_cannot_decode_is_invalid_input(encoding: str) -> None:
    # The server's own decoding of the body fails, as gunicorn's does on a bad chunk size.
    bad_chunk = Failing(ValueError("Invalid chunk size: b'zz'"))
    with pytest.raises(InvalidInput) as caught:
        read_body(bad_chunk, content_length=None, encoding=encoding, limit=LIMIT)
    assert caught.value.message == "the request body could not be read"
    assert caught.value.problems[0].message == "ValueError: Invalid chunk size: b'zz'"
