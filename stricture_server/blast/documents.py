"""Registry bodies as JSON or YAML, parsed into plain JSON data or refused with a 4xx reason.

YAML is read with PyYAML's safe loader, narrowed to what JSON can hold: aliases are refused
(an alias bomb expands to exponential size once checked), timestamps stay strings, and the
result must serialise as JSON (no non-string keys), so a YAML and a JSON upload of the same
registry store the same document.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml  # type: ignore[import-untyped]

from ..errors import InvalidInput, Problem, UnsupportedMediaType
from ..ingest.body import parse_json

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


class _JsonLikeLoader(yaml.SafeLoader):  # type: ignore[misc]
    """The safe loader without aliases, with timestamps kept as the text they were."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                None, None, "aliases are not accepted in a registry", event.start_mark
            )
        return super().compose_node(parent, index)


_JsonLikeLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def parse_registry_body(mimetype: str, data: bytes, *, max_values: int) -> Any:
    """The document of a registry upload declared as ``mimetype`` (JSON when undeclared);
    JSON is held to ``max_values`` values, as ingest holds it."""
    if mimetype in YAML_TYPES:
        return _parse_yaml(data)
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            f"unsupported Content-Type {mimetype!r}; send application/json or application/yaml"
        )
    return parse_json(data, max_values=max_values)


def _parse_yaml(data: bytes) -> Any:
    if not data.strip():
        raise InvalidInput("the body is empty; send one YAML document", [Problem("", "empty body")])
    try:
        document = yaml.load(data, Loader=_JsonLikeLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise InvalidInput("the body is not valid YAML", [Problem("", str(exc))]) from None
    except RecursionError:
        raise InvalidInput("the body is nested too deeply", [Problem("", "nesting")]) from None
    try:
        return orjson.loads(orjson.dumps(document))
    except (TypeError, orjson.JSONEncodeError) as exc:
        problem = Problem("", f"not representable as JSON: {exc}")
        raise InvalidInput("the body is not a JSON-like YAML document", [problem]) from None
