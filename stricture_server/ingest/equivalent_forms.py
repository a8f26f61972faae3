"""Equivalent forms of published patterns that jsonschema-rs decides faster.

jsonschema-rs 0.61 matches a pattern made of one character class repeated
(``^[a-z0-9_]{3,64}$``), after a lookahead at its start, in about half the time it takes for a
first character class followed by another (``^[a-z][a-z0-9_]{2,63}$``): 80 against 125 ns on
a 40-character field id (docs/performance.md, "Validation"). The two say the same thing when the
first class is part of the repeated one: the lookahead checks the first character, the
repetition checks every character and the length (one more than the published repetition, for
the first character). Both forms end in the same ``$``, so they also agree where Python's
``re`` lets ``$`` match before a trailing newline and ECMA-262 and Rust do not.

This holds from jsonschema-rs 0.61 on (0.60 took 1.2x longer with these forms). Only the
schema jsonschema-rs decides with is rewritten: the schema files, the OpenAPI document built
from them, and the reference library that lists the violations of an invalid body (so its
messages quote the published pattern) keep the published form.
``tests/test_equivalent_forms.py`` proves each pair equal in both libraries;
``benchmarks/validation_cost.py`` times the two forms side by side.
"""

from __future__ import annotations

from typing import Any

PATTERNS = {
    # field_id, renamed_from, an override's field_id
    "^[a-z][a-z0-9_]{2,63}$": "^(?=[a-z])[a-z0-9_]{3,64}$",
    # owner
    "^[a-z][a-z0-9_.-]{2,63}$": "^(?=[a-z])[a-z0-9_.-]{3,64}$",
    # source_version, min_supported_source_version
    "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$": "^(?=[A-Za-z0-9])[A-Za-z0-9._-]{1,64}$",
    # a source's provider_id
    "^[a-z][a-z0-9_-]{1,63}$": "^(?=[a-z])[a-z0-9_-]{2,64}$",
    # escalation: the lookahead finds the scheme and one character after the colon, ``.+$``
    # then checks the whole string is of ``.`` characters, as the published form's did.
    "^[a-z]+:.+$": "^(?=[a-z]+:.).+$",
}
"""Published pattern -> an equivalent pattern jsonschema-rs matches faster."""


_PUBLISHED = {faster: published for published, faster in PATTERNS.items()}


def published_wording(message: str) -> str:
    """A jsonschema-rs ``message`` quoting the published pattern, not its faster form."""
    for faster, published in _PUBLISHED.items():
        message = message.replace(faster, published)
    return message


def deciding_form(schema: Any) -> Any:
    """``schema`` with each pattern of :data:`PATTERNS` in its faster equivalent form."""
    if isinstance(schema, dict):
        return {
            key: (
                PATTERNS.get(value, value)
                if key == "pattern" and isinstance(value, str)
                else deciding_form(value)
            )
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [deciding_form(item) for item in schema]
    return schema
