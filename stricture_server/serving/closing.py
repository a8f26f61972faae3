"""Closing a connection after its last answer without blocking the event loop.

gunicorn closes such a connection as RFC 9112 section 9.6 asks: it half-closes the write side
(the client sees the end of the answer), then reads until the client closes too, so bytes the
client sent and nobody read cannot turn the close into a reset that destroys the answer. Its
threaded worker does that read in the event loop, blocking, for up to two seconds per
connection: a client that takes its time to close stalls every other connection of the worker
meanwhile, and each close waits for the event loop to get to it first. Here the thread that
wrote the answer half-closes at once, and the event loop drains what is left like any other
readable socket, each connection for at most :data:`LINGER_SECONDS`.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from collections import OrderedDict
from collections.abc import Callable

LINGER_SECONDS = 2.0
"""How long a half-closed connection waits for its client to close (gunicorn's figure)."""

MAX_DRAIN_BYTES = 64 * 1024
"""The most a closing connection reads from its client before closing anyway."""

_RECV_BYTES = 64 * 1024


def half_close(sock: socket.socket) -> None:
    """Send the end of the answer now, from the thread that wrote it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


class Lingering:
    """Half-closed connections draining in the event loop until their client closes them."""

    def __init__(self, poller: selectors.BaseSelector, closed: Callable[[], None]) -> None:
        self._poller = poller
        self._closed = closed
        # Insertion order is deadline order: every connection lingers as long.
        self._deadlines: OrderedDict[socket.socket, float] = OrderedDict()
        self._drained: dict[socket.socket, int] = {}

    def __len__(self) -> int:
        return len(self._deadlines)

    def add(self, sock: socket.socket) -> None:
        """Drain ``sock`` (already half-closed) in the event loop, then close it."""
        try:
            sock.setblocking(False)
            self._poller.register(sock, selectors.EVENT_READ, self._readable)
        except (OSError, ValueError):
            # Already gone (reset, or closed by the thread): nothing to wait for.
            self._closed()
            with contextlib.suppress(OSError):
                sock.close()
            return
        self._deadlines[sock] = time.monotonic() + LINGER_SECONDS
        self._drained[sock] = 0

    def _readable(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(_RECV_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        drained = self._drained[sock] + len(data)
        self._drained[sock] = drained
        if not data or drained >= MAX_DRAIN_BYTES:
            self._close(sock)

    def expire(self, now: float) -> None:
        """Close every connection whose client has not closed within its time."""
        for sock, deadline in list(self._deadlines.items()):
            if deadline > now:
                break
            self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        del self._deadlines[sock]
        del self._drained[sock]
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._poller.unregister(sock)
        with contextlib.suppress(OSError):
            sock.close()
        self._closed()
