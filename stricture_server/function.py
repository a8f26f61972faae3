"""Function mode: the app as a cloud function builds it, once per cold start."""

from __future__ import annotations

from collections.abc import Mapping

from .app import App, create_app
from .settings import PREFIX, ConfigError, Settings


def create_function_app(env: Mapping[str, str]) -> App:
    """Read settings from ``env`` and build the app (see :func:`function_settings`)."""
    return create_app(function_settings(env))


def function_settings(env: Mapping[str, str]) -> Settings:
    """Settings read from ``env``; refuse storage that dies with the instance.

    A function instance has no durable disk: with the ``fs`` driver it would acknowledge runs
    and then lose them, so that needs ``STRICTURE_SERVER_ALLOW_EPHEMERAL_STORAGE=true``, meant
    for local testing only.
    """
    settings = Settings.from_env(env)
    if settings.storage_driver == "fs" and not settings.allow_ephemeral_storage:
        raise ConfigError(
            f"{PREFIX}STORAGE_DRIVER='fs': a cloud function has no durable disk, so records "
            f"would be acknowledged and then lost; use an object store (s3, r2), or set "
            f"{PREFIX}ALLOW_EPHEMERAL_STORAGE=true for local testing"
        )
    return settings
