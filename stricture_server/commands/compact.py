"""``stricture-server compact``: make the compact of every closed day that has none, of each
service and of each organization (its org-wide feed).

For a schedule (a cron job, a scheduled function), daily after the grace period: it reads the
run index of each service (one listing per 1000 runs) and the index objects of the days it
compacts, never the records, so it costs far less than ``reindex``; without it, the change
feed's first reads of each day make the compacts (docs/compaction.md). Idempotent, and safe
while the server runs: a compact another process makes first is used, never replaced.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import orjson

from .. import logs
from ..compact.build import Compactor
from ..compact.org_feed import backfill
from ..reads.listings import Listings
from ..runstore.index import ServiceRef
from ..settings import Settings
from ..storage import open_storage


def services(listings: Listings, scope: tuple[str, ...]) -> Iterator[ServiceRef]:
    """Every service of the store, or of a sanitised scope (organization, project, service)."""
    if scope:
        organizations = [scope[0]]
    else:
        organizations = []
        args: dict[str, list[str]] = {"limit": ["1000"]}
        while True:
            page = listings.organizations(args)
            organizations += [found["organization"] for found in page["organizations"]]
            if not page["next_cursor"]:
                break
            args["cursor"] = [page["next_cursor"]]
    for organization in organizations:
        for ref in listings.every_service(organization):
            # The project and service of the scope, if it names them.
            if (ref.project, ref.service)[: len(scope[1:])] == scope[1:]:
                yield ref


def compact_command(settings: Settings, jobs: int, scope: tuple[str, ...] = ()) -> int:
    """Compact the closed days of the configured store's services (or of ``scope``)."""
    logs.configure(settings.log_level)
    storage = open_storage(settings)
    prefix = settings.object_prefix
    compactor = Compactor(storage, prefix, settings.compact_grace_seconds * 1000)
    refs = list(services(Listings(storage, prefix), scope))
    organizations = sorted({ref.organization for ref in refs})

    def entries(name: str) -> int:
        scope = compactor.organization(name)
        return backfill(storage, scope, [ref for ref in refs if ref.organization == name])

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        made = sum(pool.map(compactor.compact_service, refs))
        written = sum(pool.map(entries, organizations))
        if not scope:
            # Every run's organization entry is written: the org-wide feed may read them, and
            # organization compacts be made from them, from now on.
            compactor.mark_org_feeds_complete()
        org_made = sum(pool.map(compactor.compact_organization, organizations))
    summary = {
        "services": len(refs),
        "compacts": made,
        "organization_compacts": org_made,
        "organization_entries": written,
    }
    print(orjson.dumps(summary).decode(), flush=True)
    return 0
