"""AWS Lambda entry points: ``handler.handler`` (the API) and ``handler.scheduled`` (the
EventBridge schedule's periodic tasks). Settings are read once, at cold start."""

import os

from stricture_server.adapters.aws_lambda import handler_from_env, scheduled_handler_from_env

handler = handler_from_env(os.environ)
scheduled = scheduled_handler_from_env(os.environ)
