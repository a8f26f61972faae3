"""Process mode: the app served by gunicorn workers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from ..app import METRICS_LISTENER, App, create_app
from ..settings import Settings
from .heap import settle
from .worker import DeadlineWorker

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
        binds = [self.settings.addr]
        if self.settings.metrics_addr:
            binds.append(self.settings.metrics_addr)
        options = {
            "bind": binds,
            "workers": self.settings.workers,
            "worker_class": DeadlineWorker,
            "threads": self.settings.threads,
            "worker_connections": self.settings.max_connections,
            "keepalive": self.settings.keepalive_seconds,
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
        if self.settings.metrics != "off":
            from ..metrics.multiprocess import worker_exited

            options["child_exit"] = worker_exited
        for name, value in options.items():
            self.cfg.set(name, value)

    def load(self) -> WSGIApplication:
        """Build the app in each worker, after the fork; start its audit sealing and deliverer."""
        core = create_app(self.settings)
        core.sealer.start()
        from ..alerts.setup import deliverer

        alerts = deliverer(self.settings, core.runs.storage, core.runs.prefix)
        if alerts is not None:
            alerts.start()
        app = ReadTimeout(core, self.settings.read_timeout_seconds)
        settle()  # once the worker's app and threads are built: they live as long as it does
        if self.settings.metrics_port:
            return MetricsListener(app, self.settings.metrics_port)
        return app


class NoAccessLog(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger without its access log, which the app's request line replaces.

    With a logging dict config gunicorn builds every access line (about 35 µs a request) even
    when no handler writes it.
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Nothing: see :meth:`App.handle`."""


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


class MetricsListener:
    """Mark the requests that came in on ``METRICS_ADDR``, by the port they were accepted on."""

    def __init__(self, app: WSGIApplication, port: int) -> None:
        self.app = app
        self.port = port

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Tag the environ, then serve."""
        sock = environ.get("gunicorn.socket")
        if sock is not None and sock.getsockname()[1] == self.port:
            environ[METRICS_LISTENER] = True
        return self.app(environ, start_response)


def serve(settings: Settings) -> None:
    """Run gunicorn in the foreground until SIGTERM or SIGINT (graceful stop)."""
    if settings.metrics == "off":
        GunicornServer(settings).run()
        return
    from ..metrics.multiprocess import shared_directory

    with shared_directory():
        GunicornServer(settings).run()
