"""The org feeds this process has opened, one per organization, made on first use."""

from __future__ import annotations

import threading
import time

from ..settings import Settings
from ..storage import Storage
from .feed import ListAll, OrgFeed


def now_ms() -> int:
    """This process's clock as the lineage feed reads it (ms since 1970)."""
    return time.time_ns() // 1_000_000


class Orgs:
    """Hands out one :class:`OrgFeed` per organization, kept for the life of the process."""

    def __init__(self, storage: Storage, settings: Settings, list_all: ListAll = None) -> None:
        self.storage = storage
        self._list_all = list_all
        self.prefix = settings.object_prefix
        self._skew_ms = settings.lineage_skew_seconds * 1000
        self._snapshot_every = settings.lineage_snapshot_every
        self._feeds: dict[str, OrgFeed] = {}
        self._lock = threading.Lock()

    def feed(self, organization: str) -> OrgFeed:
        """The feed of ``organization`` (a sanitised name)."""
        with self._lock:
            found = self._feeds.get(organization)
            if found is None:
                found = self._feeds[organization] = OrgFeed(
                    self.storage,
                    self.prefix,
                    organization,
                    skew_ms=self._skew_ms,
                    snapshot_every=self._snapshot_every,
                    clock_ms=now_ms,
                    list_all=self._list_all,
                )
            return found
