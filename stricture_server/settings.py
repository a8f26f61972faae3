"""Settings: read once from a mapping (normally ``os.environ``), validated, then injected."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

PREFIX = "STRICTURE_SERVER_"

STORAGE_DRIVERS = ("fs", "s3", "r2", "mirror")
AVAILABLE_STORAGE_DRIVERS = ("fs",)
AUTH_MODES = ("none", "token")
VALIDATION_MODES = ("schema", "object")
LOG_LEVELS = ("debug", "info", "warning", "error")

T = TypeVar("T")


class ConfigError(ValueError):
    """A setting is missing or has a bad value; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that never shows in ``repr``, logs or error messages."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def _default_workers() -> int:
    # gunicorn's rule of thumb: ingest is I/O bound (fsync), so two per core plus one.
    return 2 * (os.cpu_count() or 1) + 1


def _parse_addr(raw: str) -> tuple[str, int]:
    host, sep, port_text = raw.rpartition(":")
    if not sep:
        raise ValueError("expected host:port or :port")
    host = host.strip("[]") or "0.0.0.0"
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError("port out of range")
    return host, port


def _positive_int(raw: str) -> int:
    value = int(raw.strip())
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _bool(raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the app needs, built once at start by :meth:`from_env`."""

    host: str = "0.0.0.0"
    port: int = 8085
    data_dir: str = ".stricture-server-data"
    storage_driver: str = "fs"
    object_bucket: str = ""
    object_prefix: str = "stricture"
    auth_mode: str = "none"
    ingest_tokens: tuple[Secret, ...] = ()
    max_body_bytes: int = 10 * 1024 * 1024
    validation: str = "schema"
    max_errors: int = 50
    workers: int = field(default_factory=_default_workers)
    timeout_seconds: int = 60
    log_level: str = "info"

    @property
    def addr(self) -> str:
        """The listen address as gunicorn takes it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build and validate settings from ``STRICTURE_SERVER_*`` variables."""
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in KNOWN_VARIABLES)
        if unknown:
            raise ConfigError(
                f"{unknown[0]}: unknown setting (known: {', '.join(KNOWN_VARIABLES)})"
            )
        reader = _Reader(env)
        host, port = reader.get("ADDR", ":8085", _parse_addr)
        driver = reader.choice("STORAGE_DRIVER", "fs", STORAGE_DRIVERS)
        if driver not in AVAILABLE_STORAGE_DRIVERS:
            raise ConfigError(
                f"{PREFIX}STORAGE_DRIVER={driver!r}: the {driver} driver is not available yet; "
                f"available: {', '.join(AVAILABLE_STORAGE_DRIVERS)}"
            )
        tokens = tuple(
            Secret(t.strip()) for t in env.get(f"{PREFIX}INGEST_TOKEN", "").split(",") if t.strip()
        )
        auth_mode = reader.choice("AUTH_MODE", "token" if tokens else "none", AUTH_MODES)
        if auth_mode == "token" and not tokens:
            raise ConfigError(
                f"{PREFIX}AUTH_MODE='token' needs {PREFIX}INGEST_TOKEN "
                "(one token, or several separated by commas)"
            )
        data_dir = reader.get("DATA_DIR", ".stricture-server-data", str)
        if not data_dir.strip():
            raise ConfigError(f"{PREFIX}DATA_DIR='': must not be empty")
        prefix = reader.get("OBJECT_PREFIX", "stricture", lambda s: s.strip().strip("/"))
        return cls(
            host=host,
            port=port,
            data_dir=data_dir,
            storage_driver=driver,
            object_bucket=reader.get("OBJECT_BUCKET", "", str.strip),
            object_prefix=prefix,
            auth_mode=auth_mode,
            ingest_tokens=tokens,
            max_body_bytes=reader.get("MAX_BODY_BYTES", "10485760", _positive_int),
            validation=reader.choice("VALIDATION", "schema", VALIDATION_MODES),
            max_errors=reader.get("MAX_ERRORS", "50", _positive_int),
            workers=reader.get("WORKERS", str(_default_workers()), _positive_int),
            timeout_seconds=reader.get("TIMEOUT_SECONDS", "60", _positive_int),
            log_level=reader.choice("LOG_LEVEL", "info", LOG_LEVELS),
        )


@dataclass(frozen=True, slots=True)
class _Reader:
    env: Mapping[str, str]

    def get(self, name: str, default: str, parse: Callable[[str], T]) -> T:
        raw = self.env.get(PREFIX + name, default)
        try:
            return parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{name}={raw!r}: {exc}") from None

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = self.env.get(PREFIX + name, default)
        value = raw.strip().lower()
        if value not in allowed:
            raise ConfigError(f"{PREFIX}{name}={raw!r}: expected one of {', '.join(allowed)}")
        return value


KNOWN_VARIABLES = tuple(
    PREFIX + name
    for name in (
        "ADDR",
        "DATA_DIR",
        "STORAGE_DRIVER",
        "OBJECT_BUCKET",
        "OBJECT_PREFIX",
        "AUTH_MODE",
        "INGEST_TOKEN",
        "MAX_BODY_BYTES",
        "VALIDATION",
        "MAX_ERRORS",
        "WORKERS",
        "TIMEOUT_SECONDS",
        "LOG_LEVEL",
    )
)
"""Every variable :meth:`Settings.from_env` reads; the docs test checks each is documented."""
