"""The gunicorn worker: threads for requests, the event loop for request heads and idle clients.

gunicorn's threaded worker hands a connection to a thread as soon as it is readable, and the
thread then blocks until the whole request head has arrived. A client that sends its head one
byte at a time holds a thread for as long as it likes, and a few such clients stop the server.
Here the event loop reads each request head itself, without blocking, against one total
deadline per head (not a per-read timeout a client could reset by sending one byte). A thread
is taken only once the head is complete. Idle connections, new or kept alive, wait in the
event loop and never hold a thread, and so do connections closing after their last answer
(:mod:`.closing`).
"""

from __future__ import annotations

import contextlib
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
from .closing import Lingering, half_close
from .error_page import StatusKeeper, raw_response
from .heads import MAX_HEAD_BYTES, complete, head_of, is_health_check

HEADER_TIMEOUT_SECONDS = 10
"""The default time a client has to send a whole request head."""

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

    def run(self) -> None:
        """gunicorn's loop, with closing connections drained in it."""
        self._lingering = Lingering(self.poller, self._connection_closed)
        super().run()

    def _connection_closed(self) -> None:
        self.nr_conns -= 1

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
        head = head_of(conn)
        if conn.parser is not None:
            # Bytes read ahead with the last request: the start of the next one.
            head += conn.parser.unreader.take_buffered()
        conn.sock.setblocking(False)
        self._heads[conn] = time.monotonic() + self.header_timeout
        if complete(conn, head):
            self._start(conn)
            return
        # A new connection is accepted once the client's head is usually there already, and a
        # kept-alive one was readable: read now, and wait in the poller only for the rest.
        self._on_readable(conn, conn.sock)
        if conn in self._heads:
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

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
        head = head_of(conn)
        head += data
        if complete(conn, head):
            self._start(conn)
        elif len(head) > MAX_HEAD_BYTES:
            detail = f"the request head is larger than {MAX_HEAD_BYTES} bytes"
            self._refuse(conn, raw_response(refused_request_response(431, detail)))

    def _stop_reading(self, conn: Any) -> None:
        del self._heads[conn]
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _start(self, conn: Any) -> None:
        health = is_health_check(conn)
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
        self._lingering.expire(now)
        if not self.alive:
            # Stopping: idle connections go now, heads under way get a short linger.
            for conn, deadline in list(self._heads.items()):
                if not head_of(conn):
                    self._close(conn)
                else:
                    self._heads[conn] = min(deadline, now + _STOP_LINGER_SECONDS)
        for conn, deadline in list(self._heads.items()):
            if deadline > now:
                break
            detail = (
                f"the request head was not received within {self.header_timeout:g} s"
                if head_of(conn)
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
        result = super().handle(conn)
        if not result and not self.cfg.is_ssl:
            # The answer is complete: its end goes out now, not when the event loop gets to it.
            half_close(conn.sock)
            conn.__dict__["half_closed"] = True
        return result

    def finish_request(self, conn: Any, fs: Future[Any]) -> None:
        """In the event loop: a connection to close lingers there; any other goes to gunicorn."""
        if conn.__dict__.pop("half_closed", False):
            self._lingering.add(conn.sock)
            return
        super().finish_request(conn, fs)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Answer ``exc`` as gunicorn would, with a JSON body like every other error.

        A request gunicorn's HTTP parser refuses (a malformed request line or header, a bad
        chunk size...) never reaches the app; gunicorn would answer it with an HTML page. Its
        choice of status and its log line are kept; only the page it writes is replaced.
        """
        page = StatusKeeper(client)
        super().handle_error(req, page, addr, exc)
        data = raw_response(refused_request_response(page.status or 500, str(exc)))
        try:
            util.write_nonblock(client, data)
        except OSError:
            self.log.debug("Failed to send error message.")
