"""What the endpoints of every area share: the caller, the log fields, the query helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug import Request, Response

from ..access.principal import Principal, principal_of
from ..http_errors import json_response

if TYPE_CHECKING:
    from ..reads.query_params import Args

Fields = dict[str, Any]
"""The request's log line fields: an endpoint adds what it learns (names, run id, replay)."""

REQUEST_ID = "stricture_server.request_id"
"""WSGI environ key holding the request's id, for an endpoint that audits before it answers."""


def caller(request: Request) -> Principal:
    """The caller ``App.handle`` authenticated for this request's route."""
    found = principal_of(request)
    if found is None:
        raise RuntimeError("the route is not described as authenticated in access/routes.py")
    return found


def no_query(request: Request) -> None:
    """Refuse any query parameter on a route that takes none."""
    # The read API's parser, loaded on the first read rather than at a function's cold start.
    from ..reads.query_params import NONE, parse

    parse(request.args.to_dict(flat=False), NONE)


def answer_query(request: Request, reply: Callable[[Args], dict[str, Any]]) -> Response:
    """200 with ``reply`` given the request's query parameters."""
    return json_response(200, reply(request.args.to_dict(flat=False)))
