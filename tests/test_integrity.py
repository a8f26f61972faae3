"""The checks of stored objects: a record against its digest, a claim against its shape."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from stricture_server.runstore.integrity import Corrupt, parse_claim, record_digest
from stricture_server.runstore.records import normalize

from . import factory

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def real_record() -> tuple[bytes, str]:
    """The real corpus stored as a record, and its digest."""
    document = factory.envelope(
        artifact=orjson.loads(
            factory.shared_fixture("lineage-artifact-baseline.json").read_bytes()
        ),
        diff=orjson.loads(
            factory.shared_fixture("lineage-diff-baseline-to-current.json").read_bytes()
        ),
    )
    record = normalize(document, NOW)
    return record.stored_bytes("2026-03-01T00:00:00.000Z"), record.digest


def test_a_stored_record_passes_with_its_digest() -> None:
    data, digest = real_record()
    assert record_digest(data) == digest


def test_any_truncation_or_changed_byte_fails() -> None:
    data, _ = real_record()
    for cut in (1, 2, 100, len(data) // 2, len(data) - 1):
        with pytest.raises(Corrupt):
            record_digest(data[:cut])
    for at in (len(data) // 3, len(data) - 2):
        changed = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
        with pytest.raises(Corrupt, match="does not match its digest"):
            record_digest(changed)
    with pytest.raises(Corrupt, match="does not match its digest"):
        record_digest(data + b"\n")
    with pytest.raises(Corrupt, match="does not start with"):
        record_digest(b"")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{",
        b"[]",
        b'{"digest": "d", "key": "k"}',
        b'{"digest": 1, "key": "k", "received_at": "t"}',
    ],
)
def test_a_claim_that_is_not_a_claim_is_corrupt(data: bytes) -> None:
    with pytest.raises(Corrupt):
        parse_claim(data)


def test_a_claim_parses() -> None:
    claim = parse_claim(b'{"digest": "sha256:ab", "key": "k", "received_at": "t"}')
    assert (claim.digest, claim.key, claim.received_at) == ("sha256:ab", "k", "t")
