"""``stricture_server.wsgi:app``, for running the app under a WSGI server of your own.

Settings are read from the environment once, when the server imports this module.
"""

from __future__ import annotations

import os
import sys

from .app import App, create_app
from .settings import ConfigError, Settings


def _build() -> App:
    try:
        return create_app(Settings.from_env(os.environ))
    except ConfigError as exc:
        print(f"stricture-server: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


app = _build()
