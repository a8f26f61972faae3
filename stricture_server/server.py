"""Process mode: the app served by gunicorn workers."""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from gunicorn import glogging, util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.sync import SyncWorker

from .app import App, create_app
from .http_errors import refused_request_response
from .identity import new_run_id
from .settings import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "stricture_server.logs.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        }
    },
    "root": {"level": "WARNING", "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
}


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured from :class:`Settings` only (no config file, no CLI flags)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        """gunicorn settings derived from ours."""
        options = {
            "bind": [self.settings.addr],
            "workers": self.settings.workers,
            "worker_class": JsonErrorWorker,
            "timeout": self.settings.timeout_seconds,
            "graceful_timeout": 30,
            # The app writes one JSON line per request itself; gunicorn's own access log
            # would be a second, unstructured line.
            "accesslog": None,
            "logger_class": NoAccessLog,
            "logconfig_dict": _LOGGING,
            "proc_name": "stricture-server",
        }
        if "control_socket_disable" in self.cfg.settings:
            # Newer gunicorn opens a control socket at one fixed path per user, which
            # several instances on one host would fight over; nothing here uses it.
            options["control_socket_disable"] = True
        for name, value in options.items():
            self.cfg.set(name, value)

    def load(self) -> WSGIApplication:
        """Build the app in each worker, after the fork."""
        return ReadTimeout(create_app(self.settings), self.settings.read_timeout_seconds)


class NoAccessLog(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger without its access log, which the app's request line replaces.

    With a logging dict config gunicorn builds every access line (about 35 µs a request) even
    when no handler writes it.
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Nothing: see :meth:`App.handle`."""


class JsonErrorWorker(SyncWorker):  # type: ignore[misc]
    """gunicorn's sync worker, whose own error answers are JSON like every other error.

    A request gunicorn's HTTP parser refuses (a malformed request line or header, a bad chunk
    size...) never reaches the app; gunicorn would answer it with an HTML page. Its choice of
    status and its log line are kept; only the page it writes is replaced.
    """

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Answer ``exc`` as gunicorn would, with a JSON body."""
        page = _ErrorPage(client)
        super().handle_error(req, page, addr, exc)
        response = refused_request_response(page.status or 500, str(exc))
        status = HTTPStatus(response.status_code)
        head = [
            f"HTTP/1.1 {status.value} {status.phrase}",
            "Connection: close",
            f"X-Request-Id: {new_run_id()}",
            "X-Content-Type-Options: nosniff",
        ]
        head += [f"{name}: {value}" for name, value in response.headers.items()]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.get_data()
        try:
            util.write_nonblock(client, data)
        except OSError:
            self.log.debug("Failed to send error message.")


class _ErrorPage:
    """Stands for the client socket while gunicorn writes its error page: keeps the status."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.status: int | None = None

    def gettimeout(self) -> float:
        # gunicorn then writes with one sendall, without switching the socket's blocking mode.
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.status = int(data.split(b" ", 2)[1])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class ReadTimeout:
    """Bound every read of the client socket, so a stalled client cannot hold a worker.

    gunicorn's sync workers read the body from a blocking socket: a client that declares more
    bytes than it sends would block the worker until gunicorn kills it and answers a bare 500.
    With a timeout the read fails, and the app answers 400 (``body.read_body``).
    """

    def __init__(self, app: App, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Set the timeout on the request's socket, then serve it."""
        sock = environ.get("gunicorn.socket")
        if sock is not None:
            sock.settimeout(self.seconds)
        return self.app(environ, start_response)


def serve(settings: Settings) -> None:
    """Run gunicorn in the foreground until SIGTERM or SIGINT (graceful stop)."""
    GunicornServer(settings).run()
