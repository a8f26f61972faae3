"""Reading the configuration file: parse, validate against its schema, resolve secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .values import ConfigError, Secret

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
ROOT_SCHEMA = "server-config.schema.json"
SECTION_DIR = "server-config"
MAX_REPORTED = 50

if TYPE_CHECKING:
    from referencing import Registry


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The validated configuration file: each section as plain data, secrets as :class:`Secret`."""

    path: str = ""
    sections: Mapping[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> Any:
        """One top-level section (``alerts``, ``access``...), or ``None`` when absent."""
        return self.sections.get(name)


def schema_registry() -> Registry[Any]:
    """The root schema and its sections, addressable by their relative file names."""
    from referencing import Registry, Resource

    resources = [(ROOT_SCHEMA, _load_json(SCHEMA_DIR / ROOT_SCHEMA))]
    for path in sorted((SCHEMA_DIR / SECTION_DIR).glob("*.schema.json")):
        resources.append((f"{SECTION_DIR}/{path.name}", _load_json(path)))
    return Registry().with_resources(
        (name, Resource.from_contents(contents)) for name, contents in resources
    )


def load_config(path: str, env: Mapping[str, str]) -> ServerConfig:
    """Read, validate and resolve the file at ``path``; all its problems in one error."""
    # Imported here: a server without a configuration file (and every cold start's import of
    # the package) does without the reference validator.
    from jsonschema import Draft202012Validator

    document = _parse(path)
    registry = schema_registry()
    validator = Draft202012Validator(
        registry[ROOT_SCHEMA].contents,
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    problems = [
        f"{_where(error.absolute_path)}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]
    if not problems:
        document = _resolve_secrets(document, env, problems, ())
    if problems:
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        lines = "\n  ".join(shown + ([f"... and {more} more"] if more else []))
        raise ConfigError(f"{path}: {len(problems)} problem(s):\n  {lines}")
    return ServerConfig(path=path, sections={k: v for k, v in document.items() if k != "version"})


def _parse(path: str) -> Any:
    import yaml  # type: ignore[import-untyped]

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc.strerror}") from None
    try:
        if path.endswith(".json"):
            return orjson.loads(raw)
        return yaml.safe_load(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {_kind(path)}: {exc}") from None


def _kind(path: str) -> str:
    return "JSON" if path.endswith(".json") else "YAML"


def _where(path: Any) -> str:
    return "/" + "/".join(str(part) for part in path) if path else "(top level)"


def _resolve_secrets(
    value: Any, env: Mapping[str, str], problems: list[str], at: tuple[Any, ...]
) -> Any:
    """Replace every ``{"env": NAME}`` with a :class:`Secret` holding that variable's value."""
    if isinstance(value, dict):
        if set(value) == {"env"} and isinstance(value["env"], str):
            name = value["env"]
            secret = env.get(name, "")
            if not secret:
                problems.append(f"{_where(at)}: environment variable {name} is not set")
            return Secret(secret)
        return {k: _resolve_secrets(v, env, problems, (*at, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_secrets(v, env, problems, (*at, i)) for i, v in enumerate(value)]
    return value


def _load_json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())
