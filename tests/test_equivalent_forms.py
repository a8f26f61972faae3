"""Each faster form of a published pattern decides every string as the published one does.

Both libraries, each against itself: jsonschema-rs (ECMA-262 ``$``: the end of the string) and
the reference ``jsonschema`` (Python's ``re``, whose ``$`` also matches before a trailing
newline), over generated strings and over the edges by hand: every length around the bounds,
each first character, trailing newlines and other line terminators, non-ASCII.
"""

from __future__ import annotations

import itertools
from typing import Any

import jsonschema
import jsonschema_rs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stricture_server.ingest.equivalent_forms import PATTERNS, deciding_form, published_wording
from stricture_server.ingest.validation import SCHEMA_FILES, EnvelopeValidator, load_schema

from . import factory

PAIRS = sorted(PATTERNS.items())
# Every character the patterns name, its neighbours in ASCII, and what trips regex engines.
ALPHABET = (
    "aAzZmq09_-.:[]@ ~`/\\^$*+?()|{}" + "\n\r\t\x00\x7f" + "é\u00e0\u2028\u2029\u212a\U0001f600"
)
FIRSTS = "aZ0_-.:é\n "
FILLS = "b9_-.:Aé"
ENDINGS = ("", "\n", "\r", "\r\n", "\n\n", "\u2028", " ", ":", ":x", "é")


def _deciders(pattern: str) -> tuple[Any, Any]:
    schema = {"type": "string", "pattern": pattern}
    return (
        jsonschema_rs.Draft202012Validator(schema),
        jsonschema.Draft202012Validator(schema),
    )


DECIDERS = {pattern: _deciders(pattern) for pair in PAIRS for pattern in pair}


def _decisions(pattern: str, text: str) -> tuple[bool, bool]:
    fast, reference = DECIDERS[pattern]
    return fast.is_valid(text), reference.is_valid(text)


def _edges() -> list[str]:
    """Strings of every length from 0 to 70 (bounds: 64, 65), each start, fill and ending."""
    lengths = range(71)
    found = []
    for length, first, fill, ending in itertools.product(lengths, FIRSTS, FILLS, ENDINGS):
        body = (first + fill * length)[:length]
        found.append(body + ending)
        # A colon in the middle: the scheme of an escalation, where ``.+`` starts.
        if length > 2:
            found.append(body[: length // 2] + ":" + body[length // 2 + 1 :] + ending)
    return found


EDGES = _edges()


@pytest.mark.parametrize(("published", "faster"), PAIRS)
def test_equal_on_the_edges(published: str, faster: str) -> None:
    differ = [text for text in EDGES if _decisions(published, text) != _decisions(faster, text)]
    assert differ == []
    # The edges hold strings each form accepts and strings it refuses, in both libraries.
    for pattern in (published, faster):
        seen = {_decisions(pattern, text) for text in EDGES}
        assert {(True, True), (False, False)} <= seen


@pytest.mark.parametrize(("published", "faster"), PAIRS)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_equal_on_generated_strings(published: str, faster: str, data: st.DataObject) -> None:
    text = data.draw(
        st.one_of(
            st.from_regex(published),
            st.from_regex(faster),
            st.text(alphabet=ALPHABET, max_size=140),
            st.text(max_size=80),
        )
    )
    assert _decisions(published, text) == _decisions(faster, text)


def test_each_published_pattern_is_in_a_schema_the_validator_decides() -> None:
    # A pattern the schemas no longer hold would be a rewrite nothing proves in use.
    text = b"".join(
        orjson.dumps(load_schema(name)) for name in ("envelope", "artifact", "diff")
    ).decode()
    for published, faster in PAIRS:
        assert orjson.dumps(published).decode() in text
        assert faster not in text


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_the_deciding_form_differs_from_the_schema_in_its_patterns_only(name: str) -> None:
    schema = load_schema(name)
    rewritten = deciding_form(schema)
    assert published_wording(orjson.dumps(rewritten).decode()) == orjson.dumps(schema).decode()


def test_an_invalid_value_is_reported_with_the_published_pattern() -> None:
    artifact = orjson.loads(factory.shared_fixture("lineage-artifact-baseline.json").read_bytes())
    artifact["fields"][0]["field_id"] = "Field"
    artifact["fields"][1]["owner"] = "a"
    problems = EnvelopeValidator(strict=True, max_errors=50).problems(
        factory.envelope(artifact=artifact)
    )
    assert [(p.path, p.message) for p in problems] == [
        ("/artifact/fields/0/field_id", "'Field' does not match '^[a-z][a-z0-9_]{2,63}$'"),
        ("/artifact/fields/1/owner", "'a' does not match '^[a-z][a-z0-9_.-]{2,63}$'"),
    ]


def test_a_violation_only_jsonschema_rs_sees_quotes_the_published_pattern() -> None:
    # Python's ``$`` matches before a trailing newline: the reference library lists nothing,
    # and the problem comes from jsonschema-rs, whose deciding form must not show through.
    artifact = orjson.loads(factory.shared_fixture("lineage-artifact-baseline.json").read_bytes())
    artifact["fields"][0]["field_id"] = "field_id\n"
    problems = EnvelopeValidator(strict=True, max_errors=50).problems(
        factory.envelope(artifact=artifact)
    )
    assert len(problems) == 1
    assert problems[0].path == "/artifact/fields/0/field_id"
    assert "^[a-z][a-z0-9_]{2,63}$" in problems[0].message
    assert "(?=" not in problems[0].message
