"""The load generator: N concurrent clients POSTing bodies on loopback, one connection each.

Run as its own process so its CPU time is its own: it prints one JSON object with the
completed count, requests/s, p50/p99 latency, errors, and its CPU use. Bounded by time and
by count. Each request carries a unique run id (the template's placeholder replaced).
"""

from __future__ import annotations

import argparse
import itertools
import resource
import socket
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson

PLACEHOLDER = b"@RUN_ID@"


def _post(port: int, head: bytes, body: bytes) -> int:
    """One POST on a fresh connection (``Connection: close``); the status code."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(head)
        sock.sendall(body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    reply = b"".join(chunks)
    return int(reply[9:12]) if reply.startswith(b"HTTP/1.") else 0


def run(port: int, template: bytes, clients: int, seconds: float, max_requests: int) -> dict:
    """Drive the server; the figures of this run."""
    prefix, _, suffix = template.partition(PLACEHOLDER)
    tag = uuid.uuid4().hex[:8]
    counter = itertools.count()
    latencies: list[float] = []
    errors: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            number = next(counter)
            if number >= max_requests:
                return
            start = prefix + f"{tag}-{number}".encode()
            length = len(start) + len(suffix)
            head = (
                b"POST /v1/artifacts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nConnection: close\r\n"
                b"Content-Length: " + str(length).encode() + b"\r\n\r\n" + start
            )
            began = time.perf_counter()
            status = _post(port, head, suffix)
            elapsed = time.perf_counter() - began
            with lock:
                if status == 202:
                    latencies.append(elapsed)
                else:
                    errors[status] = errors.get(status, 0) + 1

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    ordered = sorted(latencies)
    return {
        "completed": len(ordered),
        "errors": errors,
        "seconds": wall,
        "rps": len(ordered) / wall if wall else 0.0,
        "p50_ms": statistics.median(ordered) * 1000 if ordered else None,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        if ordered
        else None,
        "client_cpu": cpu / wall if wall else 0.0,
    }


def main() -> None:
    """Parse arguments, run, print the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True, help="template with @RUN_ID@")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    args = parser.parse_args()
    result = run(args.port, args.body.read_bytes(), args.clients, args.seconds, args.max_requests)
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")


if __name__ == "__main__":
    main()
