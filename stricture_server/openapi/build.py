"""Build the OpenAPI document from its parts and the validation schemas."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson

from ..ingest.validation import load_schema

HERE = Path(__file__).resolve().parent

SCHEMAS = {"Envelope": "envelope", "LineageArtifact": "artifact", "LineageDiff": "diff"}
"""Component name of each validation schema the document takes in."""


def _read(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(path.read_bytes())
    return document


def _hoisted(component: str, schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``schema`` and its ``$defs`` as components: ``#/$defs/x`` becomes ``{component}_x``.

    The schemas are standalone documents (``$id``, ``$schema``); inside another document
    their local references would point at its root, so each definition gets a component.
    """
    body = copy.deepcopy(schema)
    definitions = body.pop("$defs", {})
    for key in ("$id", "$schema", "$comment"):
        body.pop(key, None)
    prefix = f"#/components/schemas/{component}_"

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: rewrite(v) for k, v in node.items()}
            target = out.get("$ref")
            if isinstance(target, str) and target.startswith("#/$defs/"):
                out["$ref"] = prefix + target.removeprefix("#/$defs/")
            return out
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    found = {component: rewrite(body)}
    found.update({f"{component}_{name}": rewrite(d) for name, d in definitions.items()})
    return found


def build_document(base_path: str = "") -> dict[str, Any]:
    """The whole document; ``base_path`` (``STRICTURE_SERVER_API_BASE_PATH``) is its server."""
    document = _read(HERE / "base.json")
    paths: dict[str, dict[str, Any]] = {}
    for part in sorted((HERE / "paths").glob("*.json")):
        for path, item in _read(part).items():
            # Files may share a path (GET in one, POST in another), never an operation.
            merged = paths.setdefault(path, {})
            twice = sorted(merged.keys() & item.keys())
            if twice:
                raise ValueError(f"{part.name}: {path} {twice} are described in another file")
            merged.update(item)
    document["paths"] = dict(sorted(paths.items()))
    schemas = document["components"]["schemas"]
    for component, name in SCHEMAS.items():
        schemas.update(_hoisted(component, load_schema(name)))
    document["servers"] = [{"url": base_path or "/"}]
    return document
