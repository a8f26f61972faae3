"""The feed entries one process has applied, remembered while the skew margin can list them.

A catch-up lists the feed from the newest entry applied minus the margin, so it finds again
every entry of that stretch: those it has applied are skipped by name. Every ingest asks for
the newest and forgets what fell out of the margin, so both cost a constant, not a walk over
every entry of the margin (at 100 ingests a second, 1,000 with the default 10 s, 30,000
with a 300 s margin).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from . import keys


class AppliedEntries:
    """Names of applied feed entries within ``margin_ms`` of the newest one."""

    def __init__(self, margin_ms: int) -> None:
        self._margin_ms = margin_ms
        self._names: set[str] = set()
        self._by_time: list[tuple[int, str]] = []
        """A heap of (time, name): the oldest is forgotten first."""
        self.newest_ms: int | None = None
        """The time of the newest entry applied; ``None`` before the first."""

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def __len__(self) -> int:
        return len(self._names)

    def unseen(self, listed: Iterable[str], cut: int) -> list[str]:
        """The names of the ``listed`` keys (``cut`` characters of prefix) not applied yet."""
        # One comprehension over the set: a listing holds every entry of the margin, and all
        # but the newest few are known.
        names = self._names
        return [name for key in listed if (name := key[cut:]) not in names]

    def add(self, name: str) -> None:
        """Remember ``name`` (a feed entry's name, which holds its time) as applied."""
        if name in self._names:
            return
        ms = keys.time_of(name)
        self._names.add(name)
        heapq.heappush(self._by_time, (ms, name))
        if self.newest_ms is None or ms > self.newest_ms:
            self.newest_ms = ms

    def forget_old(self) -> None:
        """Forget the entries older than the newest minus the margin: no listing finds them."""
        if self.newest_ms is None:
            return
        horizon = self.newest_ms - self._margin_ms
        while self._by_time and self._by_time[0][0] < horizon:
            _, name = heapq.heappop(self._by_time)
            self._names.discard(name)
