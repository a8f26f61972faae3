"""Cloud Functions entry points: ``stricture`` (the API) and ``stricture_scheduled`` (the
periodic tasks, called by Cloud Scheduler). Settings are read once, at cold start."""

import os

from stricture_server.adapters.gcp import function_from_env, scheduled_function_from_env

stricture = function_from_env(os.environ)
stricture_scheduled = scheduled_function_from_env(os.environ)
