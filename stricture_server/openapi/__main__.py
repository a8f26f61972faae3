"""``python -m stricture_server.openapi``: print the document (docs/openapi.json)."""

import sys

import orjson

from .build import build_document

sys.stdout.buffer.write(orjson.dumps(build_document(), option=orjson.OPT_INDENT_2) + b"\n")
