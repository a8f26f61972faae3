"""The read API's queries and listings, built on first use: a function's cold start for ingest
skips them."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from ..runstore.runs import RunStore

if TYPE_CHECKING:
    from ..reads.listings import Listings
    from ..reads.query import Queries
    from ..runstore.records import RunIdentity


class ReadViews:
    """What the run and lineage endpoints read through, over the read API's run store."""

    def __init__(
        self,
        runs: RunStore,
        reads: RunStore,
        compact_grace_seconds: int,
        blast_radius: Callable[[RunIdentity], bytes],
    ) -> None:
        self.runs = runs
        self.reads = reads
        self.compact_grace_seconds = compact_grace_seconds
        self.blast_radius = blast_radius

    @cached_property
    def queries(self) -> Queries:
        """The read API, imported on first use: a function's cold start for ingest skips it."""
        from ..compact.build import Compactor
        from ..reads.query import Queries

        grace_ms = self.compact_grace_seconds * 1000
        # Read through the read API's view; made from the strict listing (``runs``): a compact
        # listed from a mirror's local copy alone, during an outage, would miss runs for good.
        compactor = Compactor(
            self.reads.storage,
            self.runs.prefix,
            grace_ms,
            blast_radius=self.blast_radius,
            strict=self.runs.storage,
        )
        return Queries(self.reads, compactor)

    @cached_property
    def listings(self) -> Listings:
        """The listings of names, imported on first use like :attr:`queries`."""
        from ..reads.listings import Listings

        return Listings(self.reads.storage, self.reads.prefix)
