"""Schema checks of the ingest envelope, the lineage artifact and the lineage-diff report.

Two libraries, each for what it does best. ``jsonschema-rs`` decides: on the real 110 KB
artifact it validates in about 0.13 ms against 18 ms for the reference ``jsonschema`` library
(see docs/performance.md), and it decides every valid body alone. When a part is invalid, its
violations are listed by the reference library, whose ``iter_errors`` is lazy: jsonschema-rs
builds every violation before handing out the first, so a 300 KB artifact of empty fields (18
missing properties each) cost it 30 s and 3.6 GB. Listing stops after :data:`COUNT_LIMIT`.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from ..errors import Problem
from .equivalent_forms import deciding_form, published_wording

# Next to this module in every install (wheel, editable, an unzipped function package). Read
# with a plain path: importlib.resources and the zipfile module it pulls in add about 3 ms to
# every cold start (docs/performance.md, "Cold start").
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

SCHEMA_FILES = {
    "envelope": "envelope.schema.json",
    "artifact": "lineage-artifact.schema.json",
    "diff": "lineage-diff.schema.json",
    "registry": "lineage-system-registry.schema.json",
    "run-graph": "lineage-run-graph.schema.json",
}

ECHO_LIMIT = 60
"""Most characters of a string (or other scalar) a problem message quotes from the body."""
MESSAGE_LIMIT = 300
"""Most characters of one problem message; a longer one is cut and ends with ``...``."""
COUNT_LIMIT = 1000
"""Most problems counted in one body; past it the answer says there are at least that many."""

# A bounded repr: strings cut in the middle with "...", containers after a few items, so a
# 9 MB value or a 200-entry object is never repeated back whole.
_ECHO = reprlib.Repr()
_ECHO.maxstring = _ECHO.maxother = ECHO_LIMIT
_ECHO.maxlist = _ECHO.maxtuple = _ECHO.maxdict = 5
_ECHO.maxlevel = 2
# What jsonschema-rs writes in place of the value in its messages (see _first_violation).
_MASK = "\x00value\x00"


def load_schema(name: str) -> dict[str, Any]:
    """The project's JSON Schema ``name`` (a key of ``SCHEMA_FILES``)."""
    schema: dict[str, Any] = orjson.loads((SCHEMA_DIR / SCHEMA_FILES[name]).read_bytes())
    return schema


def _pointer(parts: Sequence[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _capped(message: str, instance: Any = None) -> str:
    """``message`` with the value it quotes (``instance``) cut short, and cut as a whole."""
    if len(message) > MESSAGE_LIMIT and instance is not None:
        message = message.replace(repr(instance), _ECHO.repr(instance), 1)
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 3] + "..."
    return message


@dataclass(frozen=True, slots=True)
class Findings:
    """The problems listed, and how many more were found but not listed."""

    listed: list[Problem]
    omitted: int = 0
    complete: bool = True
    """False when counting stopped at :data:`COUNT_LIMIT`: ``omitted`` is then a lower bound."""


class EnvelopeValidator:
    """Checks a parsed body; ``strict`` also checks artifact and diff against their schemas."""

    def __init__(self, *, strict: bool, max_errors: int) -> None:
        self._max_errors = max_errors
        names = ("envelope", "artifact", "diff") if strict else ("envelope",)
        self._deciders = {name: self._compile(name) for name in names}

    @staticmethod
    def _compile(name: str) -> Any:
        # The published patterns in forms jsonschema-rs matches faster, proved equal; the
        # listers below keep the published schema, whose patterns their messages quote.
        return jsonschema_rs.Draft202012Validator(
            deciding_form(load_schema(name)), validate_formats=True, mask=_MASK
        )

    @cached_property
    def _listers(self) -> dict[str, Any]:
        # Imported and compiled on the first invalid body only: valid ingests, and a
        # function's cold start, never load it.
        import jsonschema

        kind = jsonschema.Draft202012Validator
        return {
            name: kind(load_schema(name), format_checker=kind.FORMAT_CHECKER)
            for name in self._deciders
        }

    def problems(self, document: Any) -> list[Problem]:
        """The violations listed for ``document`` (up to ``max_errors``), with JSON pointers."""
        return self.findings(document).listed

    def findings(self, document: Any) -> Findings:
        """Every violation, up to ``max_errors`` listed and up to :data:`COUNT_LIMIT` counted."""
        listed: list[Problem] = []
        counted = 0
        for problem in islice(self._iter(document), COUNT_LIMIT + 1):
            counted += 1
            if len(listed) < self._max_errors:
                listed.append(problem)
        complete = counted <= COUNT_LIMIT
        return Findings(listed, min(counted, COUNT_LIMIT) - len(listed), complete)

    def _iter(self, document: Any) -> Iterator[Problem]:
        if not isinstance(document, dict):
            yield Problem("", "the body must be one JSON object")
            return
        for name, decider in self._deciders.items():
            part = document if name == "envelope" else document.get(name)
            prefix = "" if name == "envelope" else f"/{name}"
            # is_valid short-circuits on the first violation: a valid part costs no listing.
            if isinstance(part, dict) and not decider.is_valid(part):
                yield from self._violations(name, part, prefix)

    def _violations(self, name: str, part: dict[str, Any], prefix: str) -> Iterator[Problem]:
        found = False
        for error in self._listers[name].iter_errors(part):
            found = True
            message = _capped(error.message, error.instance)
            yield Problem(prefix + _pointer(list(error.absolute_path)), message)
        if not found:
            yield self._first_violation(name, part, prefix)

    def _first_violation(self, name: str, part: dict[str, Any], prefix: str) -> Problem:
        # A check only jsonschema-rs makes (a format the reference library has no checker
        # for): its first violation, which it finds without building the others.
        try:
            self._deciders[name].validate(part)
        except jsonschema_rs.ValidationError as error:
            message = published_wording(error.message).replace(_MASK, _ECHO.repr(error.instance))
            return Problem(prefix + _pointer(error.instance_path), _capped(message))
        raise AssertionError("is_valid and validate disagree")  # pragma: no cover


class DocumentValidator:
    """Checks one parsed document against one of the project's schemas, every violation found."""

    def __init__(self, name: str, *, max_errors: int) -> None:
        self._max_errors = max_errors
        self._validator = jsonschema_rs.Draft202012Validator(
            load_schema(name), validate_formats=True
        )

    def problems(self, document: Any) -> list[Problem]:
        """Every violation (up to ``max_errors``), with JSON pointer paths."""
        if self._validator.is_valid(document):
            return []
        found = []
        for error in self._validator.iter_errors(document):
            found.append(Problem(_pointer(error.instance_path), error.message))
            if len(found) >= self._max_errors:
                break
        return found
