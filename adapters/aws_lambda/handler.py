"""AWS Lambda entry point ``handler.handler``: settings are read once, at cold start."""

import os

from stricture_server.adapters.aws_lambda import handler_from_env

handler = handler_from_env(os.environ)
