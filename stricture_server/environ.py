"""A werkzeug ``Request`` built from the parts a platform hands over (method, path, headers, body).

The ASGI face and the Azure bridge both end here, so every runtime's request looks the same to
:meth:`App.handle`, and take the response body back through :func:`response_body`. The body is
already whole in memory on these platforms.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from typing import Any

from werkzeug import Request, Response

# Headers WSGI carries without the HTTP_ prefix (PEP 3333).
_UNPREFIXED = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


def make_request(
    *,
    method: str,
    path: str,
    query_string: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    scheme: str = "https",
    server: tuple[str, int] = ("localhost", 443),
    remote_addr: str = "",
    extra: dict[str, Any] | None = None,
) -> Request:
    """A request for ``path`` (already percent-decoded) and ``query_string`` (as sent)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": "",
        # PEP 3333: native strings carry the request's bytes as latin-1.
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": query_string,
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": remote_addr,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key not in _UNPREFIXED:
            key = "HTTP_" + key
        # Repeated headers are one comma-separated field (RFC 9110, section 5.3).
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    # The platform delivered the whole body; its length is what was received, whatever a
    # forwarded Content-Length said (events often carry none).
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.update(extra or {})
    return Request(environ)


def response_body(response: Response, request: Request) -> bytes:
    """The body a WSGI server would send of ``response`` to ``request``.

    werkzeug leaves it out for ``HEAD`` (the headers stay those of ``GET``) and for ``204`` and
    ``304``, as process mode does; the platforms that take a body from us do not.
    """
    return b"".join(response.get_app_iter(request.environ))
