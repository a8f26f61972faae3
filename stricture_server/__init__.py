"""stricture-server: immutable, append-only run records of lineage artifacts and diffs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import App, create_app
    from .settings import Settings

__all__ = ["App", "Settings", "create_app"]


def __getattr__(name: str) -> Any:
    # Imported on first use: a function entry (``stricture_server.adapters.*``) prepares its
    # imports before the app's are made (see :mod:`.adapters`).
    if name in ("App", "create_app"):
        from . import app

        return getattr(app, name)
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module 'stricture_server' has no attribute {name!r}")
