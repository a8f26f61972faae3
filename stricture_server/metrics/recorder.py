"""The metrics the app records: requests, ingest, validation failures, storage."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from ..errors import (
    BodyTimedOut,
    BodyTooLarge,
    InvalidInput,
    UnsupportedEncoding,
    UnsupportedMediaType,
)

_KINDS_BY_MESSAGE = (
    ("the envelope does not match", "schema"),
    ("invalid generated_at", "schema"),
    ("invalid identity", "identity"),
    ("the body is not valid JSON", "json"),
    ("the body is empty", "json"),
    ("the body is nested too deeply", "json"),
    ("the gzip body", "gzip"),
    ("the request body was not received in full", "incomplete"),
)

# Seconds: a cached read is well under a millisecond, an object-store write tens of ms.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def validation_kind(exc: Exception) -> str | None:
    """What kind of refused ingest ``exc`` is, or None when it is no validation failure."""
    if isinstance(exc, BodyTooLarge):
        return "too_large"
    if isinstance(exc, UnsupportedMediaType | UnsupportedEncoding):
        return "media_type"
    if isinstance(exc, BodyTimedOut):
        return "incomplete"
    if isinstance(exc, InvalidInput):
        for start, kind in _KINDS_BY_MESSAGE:
            if exc.message.startswith(start):
                return kind
        return "other"
    return None


class Metrics:
    """The app's metrics, in their own registry (several apps may share one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "stricture_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "stricture_http_request_duration_seconds",
            "Time to answer a request, body read included, by route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.ingest_bytes = Counter(
            "stricture_ingest_bytes",
            "Bytes of ingest bodies read, after gzip decoding.",
            registry=registry,
        )
        self.ingests = Counter(
            "stricture_ingest_runs",
            "Runs accepted: stored, or an identical replay of a stored run.",
            ["outcome"],
            registry=registry,
        )
        self.validation_failures = Counter(
            "stricture_validation_failures",
            "Ingests refused for their content, by kind.",
            ["kind"],
            registry=registry,
        )
        # Every kind shows from the start at zero, so a rate over it works from the first one.
        for kind in sorted({kind for _, kind in _KINDS_BY_MESSAGE} | {"too_large", "media_type"}):
            self.validation_failures.labels(kind)
        self.storage_requests = Counter(
            "stricture_storage_requests",
            "Storage operations, by driver and operation.",
            ["driver", "operation"],
            registry=registry,
        )
        self.storage_errors = Counter(
            "stricture_storage_errors",
            "Storage operations that failed (the store unavailable or erring).",
            ["driver", "operation"],
            registry=registry,
        )
        self.storage_latency = Histogram(
            "stricture_storage_request_duration_seconds",
            "Time of a storage operation (a listing: until its last key is read).",
            ["driver", "operation"],
            buckets=_BUCKETS,
            registry=registry,
        )

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def refused(self, exc: Exception) -> None:
        """Count an ingest refused by ``exc``, if it is a validation failure."""
        kind = validation_kind(exc)
        if kind is not None:
            self.validation_failures.labels(kind).inc()
