"""Azure Functions entry (Python v2 model): settings are read once, at cold start."""

import os

from stricture_server.adapters.azure import function_app_from_env

app = function_app_from_env(os.environ)
