"""The one place where domain errors become HTTP status codes and JSON bodies."""

from __future__ import annotations

from typing import Any

import orjson
from werkzeug import Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

from .errors import (
    AlertNotFound,
    AlertPending,
    BodyTimedOut,
    BodyTooLarge,
    Forbidden,
    InvalidInput,
    LineageObjectInvalid,
    RecordCorrupt,
    RecordExists,
    RecordMissing,
    RecordNotFound,
    RegistryNotFound,
    StorageUnavailable,
    TooManyValues,
    Unauthenticated,
    UnknownSystem,
    UnsupportedEncoding,
    UnsupportedEvent,
    UnsupportedMediaType,
)

MISSING = "the run id is claimed but its record is missing"
REPAIR_MISSING = (
    "send the same body again to store the record; "
    "`stricture-server verify` lists every run in this state"
)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response."""
    return Response(orjson.dumps(body), status, headers, mimetype="application/json")


def error_response(exc: Exception) -> tuple[Response, str]:
    """The response for ``exc`` and the short reason written to the request log."""
    if isinstance(exc, InvalidInput):
        body: dict[str, Any] = {"error": exc.message}
        if exc.problems:
            body["problems"] = [{"path": p.path, "message": p.message} for p in exc.problems]
        if exc.omitted:
            body["problems_omitted"] = exc.omitted
            if exc.omitted_is_lower_bound:
                body["problems_omitted_is_lower_bound"] = True
        return json_response(400, body), exc.message
    if isinstance(exc, Unauthenticated):
        headers = {"WWW-Authenticate": 'Bearer realm="stricture-server"'}
        return json_response(401, {"error": str(exc)}, headers), str(exc)
    if isinstance(exc, Forbidden):
        body = {"error": str(exc), "action": exc.action, "target": exc.target}
        return json_response(403, body), "forbidden"
    if isinstance(exc, RecordMissing):
        body = {"error": MISSING, "location": exc.location, "repair": REPAIR_MISSING}
        return json_response(404, body), "record missing"
    if isinstance(exc, RecordNotFound):
        return json_response(404, {"error": "no record under this location"}), "not found"
    if isinstance(exc, RecordExists):
        body = {"error": str(exc), "location": exc.location}
        return json_response(409, body, {"Location": exc.location}), "conflict"
    if isinstance(exc, BodyTimedOut):
        return late_request_response(str(exc)), "request timeout"
    if isinstance(exc, BodyTooLarge):
        return json_response(413, {"error": str(exc), "limit": exc.limit}), "body too large"
    if isinstance(exc, TooManyValues):
        return json_response(413, {"error": str(exc), "limit": exc.limit}), "too many values"
    if isinstance(exc, UnsupportedEncoding | UnsupportedMediaType):
        return json_response(415, {"error": str(exc)}), str(exc)
    if isinstance(exc, RecordCorrupt):
        body = {"error": f"run {exc.location} fails its integrity check", "location": exc.location}
        return json_response(500, body), f"integrity check failed: {exc}"
    if isinstance(exc, StorageUnavailable):
        headers = {"Retry-After": str(exc.retry_after)}
        body = {"error": "storage is unavailable; retry later"}
        return json_response(503, body, headers), exc.reason
    if isinstance(exc, UnsupportedEvent):
        return json_response(400, {"error": str(exc), "event": exc.kind}), str(exc)
    if isinstance(exc, UnknownSystem):
        return json_response(404, {"error": str(exc), "system": exc.system}), "unknown system"
    if isinstance(exc, RegistryNotFound):
        return json_response(404, {"error": str(exc)}), "no registry"
    if isinstance(exc, LineageObjectInvalid):
        body = {"error": "a stored lineage object fails its check"}
        return json_response(500, body), f"lineage object invalid: {exc}"
    if isinstance(exc, AlertNotFound):
        return json_response(404, {"error": str(exc)}), "no such alert"
    if isinstance(exc, AlertPending):
        return json_response(409, {"error": str(exc)}), "alert pending"
    if isinstance(exc, MethodNotAllowed):
        allowed = ", ".join(sorted(exc.valid_methods or ()))
        body = {"error": "method not allowed", "allowed": sorted(exc.valid_methods or ())}
        return json_response(405, body, {"Allow": allowed}), "method not allowed"
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        name = (exc.name or "error").lower()
        return json_response(status, {"error": name}), name
    return json_response(500, {"error": "internal error"}), "internal error"


def refused_request_response(status: int, detail: str) -> Response:
    """The answer to a request the HTTP server refused before the app saw it.

    gunicorn's parser refuses a malformed request line, header or chunked body with its own
    status (400, 414, 431, 501...); the body says why, in the same shape as the app's errors.
    """
    if status >= 500 and status != 501:
        return json_response(status, {"error": "internal error"})
    name = HTTP_STATUS_CODES.get(status, "error").lower()
    return json_response(
        status, {"error": f"malformed HTTP request: {name}", "detail": detail[:200]}
    )


def late_request_response(detail: str) -> Response:
    """The answer to a client that did not send its request head in time (408)."""
    return json_response(408, {"error": "request timeout", "detail": detail})
