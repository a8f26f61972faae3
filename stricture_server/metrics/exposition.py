"""What ``GET /metrics`` answers: every worker's values, and the mirror's replication state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from .multiprocess import directory
from .recorder import Metrics


class ReplicationCollector:
    """The mirror's outbox, read at scrape time: it is on disk, the same for every worker."""

    def __init__(self, status: Callable[[], dict[str, Any]]) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        """Backlog, oldest pending age and failed copies."""
        status = self.status()
        yield GaugeMetricFamily(
            "stricture_replication_pending",
            "Records stored locally and not yet copied to the object store.",
            value=status["pending"],
        )
        yield GaugeMetricFamily(
            "stricture_replication_oldest_pending_seconds",
            "Age of the oldest record waiting to be copied; 0 when none waits.",
            value=status["oldest_pending_age_seconds"] or 0,
        )
        yield GaugeMetricFamily(
            "stricture_replication_failed",
            "Records whose copy failed for good (kept locally, listed by GET /v1/replication).",
            value=status["failed"],
        )


def scrape(metrics: Metrics, replication: Callable[[], dict[str, Any]] | None) -> tuple[bytes, str]:
    """The exposition text and its content type."""
    shared = directory()
    if shared:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, shared)  # type: ignore[no-untyped-call]
    else:
        registry = metrics.registry
    text = generate_latest(registry)
    if replication is not None:
        extra = CollectorRegistry()
        extra.register(ReplicationCollector(replication))
        text += generate_latest(extra)
    return text, CONTENT_TYPE_LATEST
