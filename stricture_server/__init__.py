"""stricture-server: immutable, append-only run records of lineage artifacts and diffs."""

from .app import App, create_app
from .settings import Settings

__all__ = ["App", "Settings", "create_app"]
