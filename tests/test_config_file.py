"""The configuration file: read, validated against its published schema, at start."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from stricture_server.config import ServerConfig
from stricture_server.config.file import SCHEMA_DIR, schema_registry
from stricture_server.settings import ConfigError, Settings

from .commands import run_command


def _settings(path: Path) -> Settings:
    return Settings.from_env({"STRICTURE_SERVER_CONFIG_FILE": str(path)})


def test_without_a_file_the_configuration_is_empty() -> None:
    config = Settings.from_env({}).config
    assert config == ServerConfig()
    assert config.section("alerts") is None


@pytest.mark.parametrize("name", ["server.yaml", "server.json"])
def test_a_minimal_file_in_yaml_or_json_is_read(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(orjson.dumps({"version": 1, "alerts": {}}))  # JSON is YAML too
    config = _settings(path).config
    assert config.path == str(path)
    assert config.section("alerts") == {}
    assert config.section("access") is None


def test_every_problem_is_reported_at_once_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "server.yaml"
    path.write_text("version: 2\nalert: {}\naccess: {grants: []}\n")
    with pytest.raises(ConfigError) as caught:
        _settings(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: 3 problem(s):")
    assert "(top level): Additional properties are not allowed ('alert' was unexpected)" in message
    assert "/version: 1 was expected" in message
    assert "/access: Additional properties are not allowed ('grants' was unexpected)" in message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("server.yaml", "version: [1\n", "not valid YAML"),
        ("server.json", "{version: 1}", "not valid JSON"),
        ("server.yaml", "- version\n", "(top level): ['version'] is not of type 'object'"),
        ("server.yaml", "", "(top level): None is not of type 'object'"),
    ],
)
def test_a_file_that_is_not_a_mapping_is_refused(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        _settings(path)
    assert expected in str(caught.value)


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        _settings(tmp_path / "absent.yaml")


def test_serve_stops_at_start_on_a_bad_file_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "server.yaml"
    path.write_text("version: 1\nbogus: true\n")
    result = run_command({"STRICTURE_SERVER_CONFIG_FILE": str(path)}, "serve")
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "'bogus' was unexpected" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_published_schemas_are_valid_and_every_section_is_reachable() -> None:
    from jsonschema import Draft202012Validator

    registry = schema_registry()
    root = orjson.loads((SCHEMA_DIR / "server-config.schema.json").read_bytes())
    Draft202012Validator.check_schema(root)
    for path in (SCHEMA_DIR / "server-config").glob("*.schema.json"):
        Draft202012Validator.check_schema(orjson.loads(path.read_bytes()))
        name = path.name.removesuffix(".schema.json")
        assert root["properties"][name] == {"$ref": f"server-config/{path.name}"}
        assert (
            registry[f"server-config/{path.name}"].contents["$id"] == f"server-config/{path.name}"
        )
