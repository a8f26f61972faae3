"""Cloud Functions entry point ``stricture``: settings are read once, at cold start."""

import os

from stricture_server.adapters.gcp import function_from_env

stricture = function_from_env(os.environ)
