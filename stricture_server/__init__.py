"""stricture-server: immutable, append-only run records of lineage artifacts and diffs."""

from .lean_werkzeug import install

# Before anything imports werkzeug: see lean_werkzeug for what this keeps off a cold start.
install()

from .app import App, create_app  # noqa: E402
from .settings import Settings  # noqa: E402

__all__ = ["App", "Settings", "create_app"]
