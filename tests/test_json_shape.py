"""The shape of a JSON text, measured on its bytes: checked against the parsed document."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from stricture_server.ingest.json_shape import shape

from . import factory

UNLIMITED = 10**9
# Every character that could confuse a byte-level measure, for the strings of random texts.
TRICKY = ["a", "[", "]", "{", "}", ",", '"', "\\", ":", " ", "é", "\n", "\\\\", '\\"']


def counted(value: Any, depth: int = 0) -> tuple[int, int]:
    """Values (an empty array or object counts twice) and nesting, by walking the document."""
    if not isinstance(value, dict | list):
        return 1, depth
    items = list(value.values()) if isinstance(value, dict) else value
    total, deepest = (1 if items else 2), depth + 1
    for item in items:
        values, nested = counted(item, depth + 1)
        total, deepest = total + values, max(deepest, nested)
    return total, deepest


def text(rng: random.Random) -> str:
    return "".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 8)))


def document(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 6 or roll < 0.4:
        return rng.choice([text(rng), 1, -2.5e3, None, True, False])
    if roll < 0.7:
        return [document(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {text(rng): document(rng, depth + 1) for _ in range(rng.randint(0, 4))}


@pytest.mark.parametrize("seed", range(4))
def test_random_documents_with_tricky_strings(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(1500):
        value = document(rng)
        expected = counted(value)
        for encoded in (json.dumps(value), json.dumps(value, indent=2, ensure_ascii=False)):
            found = shape(encoded.encode(), max_values=UNLIMITED)
            assert (found.values, found.depth) == expected, encoded


@pytest.mark.parametrize(
    ("encoded", "values", "depth"),
    [
        (b"1", 1, 0),
        (b"[]", 2, 1),
        (b'{"a": [1, 2], "b": {}}', 6, 2),
        (b'"[[[{{{,,,"', 1, 0),
        (b'["\\\\", "\\"", "\\\\\\"[", "\\\\\\\\"]', 5, 1),
        (b'{"k\\"[": "\\\\"}', 2, 1),
        (b'["a\\n", "[\\u0041,", ["\\t"]]', 5, 2),
    ],
)
def test_strings_and_escapes(encoded: bytes, values: int, depth: int) -> None:
    json.loads(encoded)  # each case is valid JSON
    found = shape(encoded, max_values=UNLIMITED)
    assert (found.values, found.depth) == (values, depth)


def test_many_escapes_take_the_same_path_to_the_same_answer() -> None:
    # Past one escape per 256 bytes they are removed by replacing, not by the pattern.
    for encoded in (
        json.dumps(["a" * 6000 + '\\"[', ["]"]]).encode(),
        json.dumps(['\\"[' * 600, ["]"]]).encode(),
    ):
        found = shape(encoded, max_values=UNLIMITED)
        assert (found.values, found.depth) == (4, 2)


@pytest.mark.parametrize("seed", range(2))
def test_few_escapes_in_a_long_text_are_found_one_by_one(seed: int) -> None:
    # Under one backslash per 256 bytes, the byte after each is looked at, not the pattern run.
    rng = random.Random(seed)
    for _ in range(400):
        value = ["a" * 400_000, document(rng)]
        encoded = json.dumps(value).encode()
        assert encoded.count(b"\\") < len(encoded) >> 8
        found = shape(encoded, max_values=UNLIMITED)
        assert (found.values, found.depth) == counted(value), encoded[400_000:]


def test_a_text_with_too_many_strings_is_counted_short() -> None:
    # Strings holding commas: at least a quarter as many values as quotes, refused on that.
    encoded = json.dumps([",", "[", "{"] * 100).encode()
    assert shape(encoded, max_values=UNLIMITED).values == 301
    assert shape(encoded, max_values=10).values > 10


def test_the_factory_artifact_is_measured_exactly() -> None:
    value = factory.envelope(artifact=factory.artifact(40), diff=factory.diff(12))
    found = shape(json.dumps(value).encode(), max_values=UNLIMITED)
    assert (found.values, found.depth) == counted(value)
