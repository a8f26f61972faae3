"""The gunicorn worker: threads for requests, the event loop for request heads and idle clients.

gunicorn's threaded worker hands a connection to a thread as soon as it is readable, and the
thread then blocks until the whole request head has arrived. A client that sends its head one
byte at a time holds a thread for as long as it likes, and a few such clients stop the server.
Here the event loop reads each request head itself, without blocking, against one total
deadline per head (not a per-read timeout a client could reset by sending one byte). A thread
is taken only once the head is complete. Idle connections, new or kept alive, wait in the
event loop and never hold a thread.
"""

from __future__ import annotations

import contextlib
import re
import resource
import selectors
import time
from collections import OrderedDict
from concurrent.futures import Future
from functools import partial
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from ..http_errors import late_request_response, refused_request_response
from .error_page import raw_response

HEADER_TIMEOUT_SECONDS = 10
"""The default time a client has to send a whole request head."""

MAX_HEAD_BYTES = 64 * 1024
"""The largest request head read: request line and every header field, with their line ends."""

_CONTENT_LENGTH = re.compile(rb"\ncontent-length:([^\r\n]*)")
_STOP_LINGER_SECONDS = 2.0
_SPARE_DESCRIPTORS = 256
_RECV_BYTES = 64 * 1024


class DeadlineWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker, with request heads read in the event loop under a deadline.

    ``stricture-server serve`` sets the deadline from its settings; under a gunicorn command
    of your own (``-k stricture_server.serving.worker.DeadlineWorker``) it is
    :data:`HEADER_TIMEOUT_SECONDS`.
    """

    header_timeout: float = HEADER_TIMEOUT_SECONDS

    def init_process(self) -> None:
        """Set up the connections waiting for their head, then gunicorn's loop."""
        # Insertion order is deadline order: every head gets the same time.
        self._heads: OrderedDict[Any, float] = OrderedDict()
        settings = getattr(self.app, "settings", None)
        if settings is not None:
            self.header_timeout = settings.header_timeout_seconds
        self._allow_descriptors(self.cfg.worker_connections + _SPARE_DESCRIPTORS)
        super().init_process()

    def _allow_descriptors(self, wanted: int) -> None:
        # Every held connection is a descriptor: a soft limit below the connection limit would
        # make accept() fail with EMFILE, which stops gunicorn's worker. The hard limit is the
        # system's word; raise the soft one up to it.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            if hard == resource.RLIM_INFINITY or hard >= wanted:
                resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
                return
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            self.log.warning(
                "open files are limited to %d: fewer than the %d connections allowed; "
                "raise the limit (LimitNOFILE, ulimit -n) or lower "
                "STRICTURE_SERVER_MAX_CONNECTIONS",
                hard,
                wanted,
            )

    def enqueue_req(self, conn: Any) -> None:
        """Hand ``conn`` to a thread once its request head is complete; read it here until then."""
        if self.cfg.is_ssl:
            # The TLS handshake and its records are read by the thread, as gunicorn does.
            super().enqueue_req(conn)
            return
        head = _head(conn)
        if conn.parser is not None:
            # Bytes read ahead with the last request: the start of the next one.
            head += conn.parser.unreader.take_buffered()
        conn.sock.setblocking(False)
        self._heads[conn] = time.monotonic() + self.header_timeout
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
        if _complete(conn, head):
            self._start(conn)
        elif conn.parser is not None or head:
            # A kept-alive client that became readable: its bytes are likely there already.
            self._on_readable(conn, conn.sock)

    def _on_readable(self, conn: Any, _sock: Any) -> None:
        try:
            data = conn.sock.recv(_RECV_BYTES)
        except BlockingIOError:
            return
        except OSError:
            self._close(conn)
            return
        if not data:
            # The client went away before finishing its head: nothing to answer.
            self._close(conn)
            return
        head = _head(conn)
        head += data
        if _complete(conn, head):
            self._start(conn)
        elif len(head) > MAX_HEAD_BYTES:
            detail = f"the request head is larger than {MAX_HEAD_BYTES} bytes"
            self._refuse(conn, raw_response(refused_request_response(431, detail)))

    def _stop_reading(self, conn: Any) -> None:
        del self._heads[conn]
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _start(self, conn: Any) -> None:
        health = _is_health_check(_head(conn))
        self._stop_reading(conn)
        conn.data_ready = True
        if not health:
            super().enqueue_req(conn)
            return
        # Served here, not by a thread: every thread may be waiting on a slow object store, and
        # a health check must not fail (and have the server restarted) for that. It reads no
        # body and asks nothing of the store, so it cannot block the loop.
        served: Future[Any] = Future()
        try:
            served.set_result(self.handle(conn))
        except Exception as exc:
            served.set_exception(exc)
        self.finish_request(conn, served)

    def _close(self, conn: Any) -> None:
        self._stop_reading(conn)
        self.nr_conns -= 1
        conn.close()

    def _refuse(self, conn: Any, page: bytes) -> None:
        self._stop_reading(conn)
        try:
            conn.sock.send(page)
            # What the client sent and nobody read would turn the close into a reset, which
            # can destroy the answer before the client reads it.
            while conn.sock.recv(_RECV_BYTES):
                pass
        except OSError:
            pass  # nothing more to read now, or the client is gone
        self.nr_conns -= 1
        util.close(conn.sock)

    def murder_pending(self) -> None:
        """Also answer 408 to every connection whose head is late, and close it."""
        super().murder_pending()
        now = time.monotonic()
        if not self.alive:
            # Stopping: idle connections go now, heads under way get a short linger.
            for conn, deadline in list(self._heads.items()):
                if not _head(conn):
                    self._close(conn)
                else:
                    self._heads[conn] = min(deadline, now + _STOP_LINGER_SECONDS)
        for conn, deadline in list(self._heads.items()):
            if deadline > now:
                break
            detail = (
                f"the request head was not received within {self.header_timeout:g} s"
                if _head(conn)
                else "no request was received in time"
            )
            self._refuse(conn, raw_response(late_request_response(detail)))

    def handle(self, conn: Any) -> Any:
        """In a thread: give the head read so far to gunicorn's parser, then serve the request."""
        head = conn.__dict__.pop("head", None)
        conn.__dict__.pop("head_scan", None)
        conn.init()
        if head:
            conn.parser.unreader.unread(bytes(head))
        return super().handle(conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Answer ``exc`` as gunicorn would, with a JSON body like every other error.

        A request gunicorn's HTTP parser refuses (a malformed request line or header, a bad
        chunk size...) never reaches the app; gunicorn would answer it with an HTML page. Its
        choice of status and its log line are kept; only the page it writes is replaced.
        """
        page = _ErrorPage(client)
        super().handle_error(req, page, addr, exc)
        data = raw_response(refused_request_response(page.status or 500, str(exc)))
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


def _head(conn: Any) -> bytearray:
    """The bytes of the request head read so far on ``conn``."""
    head: bytearray | None = conn.__dict__.get("head")
    if head is None:
        head = conn.__dict__["head"] = bytearray()
    return head


def _is_health_check(head: bytearray) -> bool:
    """Whether ``head`` is a ``GET /healthz`` (with or without a query) that has no body."""
    text = bytes(head).lstrip(b"\r\n")
    if not text.startswith((b"GET /healthz ", b"GET /healthz?")):
        return False
    lowered = text.lower()
    lengths = _CONTENT_LENGTH.findall(lowered)
    return b"\ntransfer-encoding:" not in lowered and all(n.strip() == b"0" for n in lengths)


def _complete(conn: Any, head: bytearray) -> bool:
    """Whether ``head`` holds a whole request head (empty lines before it are allowed).

    Each call looks only at what arrived since the last one on ``conn``: a client sending its
    head a byte per packet must not make the event loop scan the whole head at every byte.
    """
    # ``lead``: the end of the empty lines before the request line; ``seen``: bytes looked at.
    lead, seen = conn.__dict__.get("head_scan", (0, 0))
    if seen - lead < 2:
        # The empty lines may go on: fewer than two bytes past them have been looked at.
        while head.startswith(b"\r\n", lead):
            lead += 2
    found = head.find(b"\r\n\r\n", max(lead, seen - 3)) != -1
    conn.__dict__["head_scan"] = (lead, len(head))
    return found
