"""Settings: defaults, parsing, and one clear error per bad value."""

from __future__ import annotations

import pytest

from stricture_server.settings import KNOWN_VARIABLES, ConfigError, Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("0.0.0.0", 8085)
    assert settings.data_dir == ".stricture-server-data"
    assert settings.storage_driver == "fs"
    assert settings.object_prefix == "stricture"
    assert settings.auth_mode == "none"
    assert settings.max_body_bytes == 10 * 1024 * 1024
    assert settings.validation == "schema"
    assert settings.workers >= 3


@pytest.mark.parametrize(
    ("addr", "host", "port"),
    [(":9000", "0.0.0.0", 9000), ("127.0.0.1:1", "127.0.0.1", 1), ("[::1]:8085", "::1", 8085)],
)
def test_addr(addr: str, host: str, port: int) -> None:
    settings = Settings.from_env({"STRICTURE_SERVER_ADDR": addr})
    assert (settings.host, settings.port) == (host, port)
    assert Settings.from_env({"STRICTURE_SERVER_ADDR": addr}).addr.endswith(f":{port}")


def test_a_token_turns_token_mode_on() -> None:
    settings = Settings.from_env({"STRICTURE_SERVER_INGEST_TOKEN": " new , old ,"})
    assert settings.auth_mode == "token"
    assert [t.value for t in settings.ingest_tokens] == ["new", "old"]


def test_a_token_with_auth_none_is_refused_as_a_likely_mistake() -> None:
    env = {"STRICTURE_SERVER_INGEST_TOKEN": "s3cr3t-value", "STRICTURE_SERVER_AUTH_MODE": "NONE"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert "STRICTURE_SERVER_AUTH_MODE='none'" in message
    assert "STRICTURE_SERVER_INGEST_TOKEN" in message
    assert "s3cr3t-value" not in message
    assert Settings.from_env({"STRICTURE_SERVER_AUTH_MODE": "none"}).auth_mode == "none"


def test_secrets_never_show_in_repr() -> None:
    settings = Settings.from_env({"STRICTURE_SERVER_INGEST_TOKEN": "s3cr3t-value"})
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings.ingest_tokens)


def test_prefix_is_trimmed_of_slashes() -> None:
    assert Settings.from_env({"STRICTURE_SERVER_OBJECT_PREFIX": "/a/b/"}).object_prefix == "a/b"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        (
            {"STRICTURE_SERVER_STORAGE_DRIVER": "ftp"},
            ["STRICTURE_SERVER_STORAGE_DRIVER", "'ftp'", "fs"],
        ),
        ({"STRICTURE_SERVER_AUTH_MODE": "tokn"}, ["STRICTURE_SERVER_AUTH_MODE", "'tokn'"]),
        ({"STRICTURE_SERVER_AUTH_MODE": "token"}, ["STRICTURE_SERVER_INGEST_TOKEN"]),
        (
            {"STRICTURE_SERVER_MAX_BODY_BYTES": "10MB"},
            ["STRICTURE_SERVER_MAX_BODY_BYTES", "'10MB'"],
        ),
        ({"STRICTURE_SERVER_MAX_BODY_BYTES": "0"}, ["STRICTURE_SERVER_MAX_BODY_BYTES", "positive"]),
        ({"STRICTURE_SERVER_WORKERS": "-1"}, ["STRICTURE_SERVER_WORKERS", "'-1'"]),
        ({"STRICTURE_SERVER_ADDR": "8085"}, ["STRICTURE_SERVER_ADDR", "'8085'"]),
        ({"STRICTURE_SERVER_ADDR": ":70000"}, ["STRICTURE_SERVER_ADDR", "range"]),
        ({"STRICTURE_SERVER_VALIDATION": "loose"}, ["STRICTURE_SERVER_VALIDATION", "schema"]),
        ({"STRICTURE_SERVER_DATA_DIR": " "}, ["STRICTURE_SERVER_DATA_DIR"]),
        ({"STRICTURE_SERVER_STORAGE_DRIVR": "fs"}, ["STRICTURE_SERVER_STORAGE_DRIVR", "unknown"]),
    ],
)
def test_bad_configuration_names_the_variable_and_value(
    env: dict[str, str], names: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert "\n" not in message
    for name in names:
        assert name in message


def test_bad_configuration_never_echoes_a_token() -> None:
    env = {"STRICTURE_SERVER_INGEST_TOKEN": "s3cr3t-value", "STRICTURE_SERVER_AUTH_MODE": "x"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert "s3cr3t-value" not in str(caught.value)


def test_every_known_variable_is_accepted() -> None:
    assert all(name.startswith("STRICTURE_SERVER_") for name in KNOWN_VARIABLES)
    Settings.from_env({"STRICTURE_SERVER_LOG_LEVEL": "debug", "STRICTURE_SERVER_MAX_ERRORS": "3"})


def test_read_timeout_must_be_shorter_than_the_worker_timeout() -> None:
    env = {"STRICTURE_SERVER_READ_TIMEOUT_SECONDS": "60"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert "STRICTURE_SERVER_READ_TIMEOUT_SECONDS=60" in str(caught.value)
    assert "STRICTURE_SERVER_TIMEOUT_SECONDS" in str(caught.value)
    env["STRICTURE_SERVER_TIMEOUT_SECONDS"] = "61"
    assert Settings.from_env(env).read_timeout_seconds == 60


def test_the_compaction_grace_must_outlast_an_ingest() -> None:
    assert Settings.from_env({}).compact_grace_seconds == 3600
    env = {"STRICTURE_SERVER_COMPACT_GRACE_SECONDS": "60"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert "STRICTURE_SERVER_COMPACT_GRACE_SECONDS=60" in str(caught.value)
    assert "STRICTURE_SERVER_TIMEOUT_SECONDS (60)" in str(caught.value)
    env["STRICTURE_SERVER_TIMEOUT_SECONDS"] = "59"
    assert Settings.from_env(env).compact_grace_seconds == 60


def test_connections_must_outnumber_threads() -> None:
    env = {"STRICTURE_SERVER_THREADS": "8", "STRICTURE_SERVER_MAX_CONNECTIONS": "8"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert "STRICTURE_SERVER_MAX_CONNECTIONS=8" in str(caught.value)
    assert "STRICTURE_SERVER_THREADS (8)" in str(caught.value)
    env["STRICTURE_SERVER_MAX_CONNECTIONS"] = "9"
    settings = Settings.from_env(env)
    assert (settings.threads, settings.max_connections) == (8, 9)
    assert Settings.from_env({}).header_timeout_seconds == 10


def test_the_value_limit_follows_the_body_cap_unless_set() -> None:
    assert Settings.from_env({}).max_json_values == 218_453
    assert Settings().max_json_values == 218_453
    cap = {"STRICTURE_SERVER_MAX_BODY_BYTES": "4800"}
    assert Settings.from_env(cap).max_json_values == 100
    assert Settings.from_env({**cap, "STRICTURE_SERVER_MAX_JSON_VALUES": "7"}).max_json_values == 7
    assert Settings.from_env({"STRICTURE_SERVER_MAX_BODY_BYTES": "10"}).max_json_values == 1
    with pytest.raises(ConfigError, match="STRICTURE_SERVER_MAX_JSON_VALUES='0'"):
        Settings.from_env({"STRICTURE_SERVER_MAX_JSON_VALUES": "0"})
