"""Outbound HTTP to alert destinations, under the safety rules.

The host is resolved once, at send time; every address it resolves to must be public
(private, loopback, link-local such as 169.254.169.254, multicast, reserved and IPv4-mapped
addresses are refused; loopback is allowed only with the test setting). The connection goes
to the address that was checked, so a second resolution cannot point it elsewhere (DNS
rebinding); TLS still verifies the certificate against the host name. Redirects are not
followed, every read has a timeout, the whole answer must come within the send timeout, and
at most :data:`MAX_RESPONSE_BYTES` of its body are read.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from .rules import url_problem

MAX_RESPONSE_BYTES = 64 * 1024
Resolver = Callable[[str, int], list[str]]
"""``(host, port) -> addresses``: the system's, or one a test controls."""


class SendFailed(Exception):
    """No HTTP answer: the address is refused, or the network or the receiver failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Answer:
    """What a destination answered."""

    status: int
    retry_after: float | None
    """Seconds the receiver asked us to wait (``Retry-After``), if it did."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, once."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise SendFailed(f"cannot resolve the host: {exc.strerror or exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def refusal(address: str, *, allow_loopback: bool) -> str:
    """Why an address must not be connected to, or ``""``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return "an IPv4-mapped address"
    if ip.is_loopback:
        return "" if allow_loopback else "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified or ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    return "" if ip.is_global else "a reserved address"


class _PinnedHTTP(http.client.HTTPConnection):
    """A connection to a checked address, with the URL's host in the ``Host`` header."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """:class:`_PinnedHTTP` over TLS, the certificate checked against the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class Transport:
    """Sends one POST to a destination URL."""

    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        timeout_seconds: float = 15.0,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_loopback = allow_loopback
        self.timeout = timeout_seconds
        self.resolver = resolver

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST ``body``; the answer's status, or :class:`SendFailed` (never shows the URL)."""
        problem = url_problem(url, allow_loopback=self.allow_loopback)
        if problem:
            raise SendFailed(problem)
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = self.resolver(host, port)
        if not addresses:
            raise SendFailed("the host resolves to no address")
        for address in addresses:
            why = refusal(address, allow_loopback=self.allow_loopback)
            if why:
                raise SendFailed(f"refused: the host resolves to {why}")
        kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
        connection = kind(host, port, addresses[0], self.timeout)
        deadline = time.monotonic() + self.timeout
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", path, body, {**headers, "Connection": "close"})
            response = connection.getresponse()
            _drain(response, deadline)
            return Answer(response.status, _retry_after(response.getheader("Retry-After")))
        except (OSError, http.client.HTTPException) as exc:
            raise SendFailed(_describe(exc)) from None
        finally:
            connection.close()


def _drain(response: http.client.HTTPResponse, deadline: float) -> None:
    """Read at most :data:`MAX_RESPONSE_BYTES` of the body, all before ``deadline``."""
    left = MAX_RESPONSE_BYTES
    while left > 0:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took longer than the send timeout")
        chunk = response.read(min(left, 8192))
        if not chunk:
            return
        left -= len(chunk)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError):
        return "connection closed without an answer"
    return f"{type(exc).__name__}: {exc}"[:200]
