"""The server's configuration file: alert rules and the access policy, in one declarative file.

Its path is a setting (``STRICTURE_SERVER_CONFIG_FILE``); it is read and validated once, at
start, against the JSON Schema published in the package (``schemas/server-config.schema.json``,
one file per section under ``schemas/server-config/``). Secrets are never written in it: a
value ``{"env": "NAME"}`` names the environment variable that holds it.
"""

from .file import ServerConfig, load_config

__all__ = ["ServerConfig", "load_config"]
