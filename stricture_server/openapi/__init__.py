"""The OpenAPI 3.1 document of the API, served at ``GET /v1/openapi.json``.

Written by hand in ``base.json`` (components) and ``paths/*.json`` (one file per group of
endpoints: a new group adds a file, which may add methods to a path another file has); the
request body schemas are the server's own JSON Schemas
in ``stricture_server/schemas``, taken in when the document is built, never restated.
``python -m stricture_server.openapi`` prints it (``docs/openapi.json`` is that output).
"""

from .build import build_document

__all__ = ["build_document"]
