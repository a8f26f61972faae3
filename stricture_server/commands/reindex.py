"""``stricture-server reindex``: rebuild the index objects from the records.

It also writes each run's lineage feed entry and ``lineage-graph.json`` where the feed lacks
the run (docs/lineage.md, "Ingest: order, failures and crashes"), and the compact of every
closed day that has none (docs/compaction.md): run on a schedule, it keeps the change feed's
first reads of a day from making them.

For a bug fixed in the index, a restore, a bucket copied from elsewhere, an ingest that
stopped between its record and its index, or a store written before name entries existed
(a full rebuild then marks the names complete, see :mod:`..runstore.names`). Idempotent: objects are
created only where missing, so running it twice, or while the server ingests, changes nothing
that exists. It can be narrowed to one organization, project or service.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import orjson

from .. import logs
from ..blast.derive import feed_run
from ..blast.feed import Landing
from ..blast.orgs import now_ms
from ..compact.build import Compactor
from ..errors import InvalidInput, ObjectNotFound
from ..lineage.edges import RunGraph
from ..runstore.identity import sanitize
from ..runstore.index import Index, RunFacts, ServiceRef
from ..runstore.records import identity_from_path
from ..settings import Settings
from ..storage import Storage, open_storage

log = logging.getLogger(__name__)

RECORD = "/payload.json"


@dataclass(slots=True)
class Reindexed:
    """What a rebuild did."""

    records: int = 0
    created: int = 0
    lineage: int = 0
    """Runs whose lineage feed entry and ``lineage-graph.json`` were written."""
    compacts: int = 0
    organization_compacts: int = 0
    """Compacts made for closed days that had none (docs/compaction.md)."""
    unreadable: list[str] = field(default_factory=list)
    """Keys of records that could not be read as records (left alone, logged)."""


SCOPE = ("org", "project", "service")
"""The key segments a rebuild can be narrowed to, outermost first."""


def sanitized_scope(names: Iterable[str]) -> tuple[str, ...]:
    """An organization, project and service (or the first one or two), sanitised as ingest does.

    A name that ingest refuses, or that sanitises to nothing, is a :class:`ValueError`.
    """
    scope = []
    for segment, name in zip(SCOPE, names, strict=False):
        try:
            clean = sanitize(name)
        except ValueError as exc:
            raise ValueError(f"{segment} {name!r} {exc}") from None
        if not clean:
            raise ValueError(f"{segment} {name!r} is empty once sanitised")
        scope.append(clean)
    return tuple(scope)


def scope_root(prefix: str, scope: tuple[str, ...], area: str = "v1") -> str:
    """The key prefix of the records (``v1``) or index objects (``index/v1``) of a scope."""
    root = f"{prefix}/{area}/" if prefix else f"{area}/"
    return root + "".join(f"{segment}={name}/" for segment, name in zip(SCOPE, scope, strict=False))


def record_keys(storage: Storage, prefix: str, scope: tuple[str, ...] = ()) -> Iterator[str]:
    """Every record's key, or those of a :func:`sanitized_scope`, in key order."""
    return (key for key in storage.list(scope_root(prefix, scope)) if key.endswith(RECORD))


def reindex(
    storage: Storage,
    prefix: str,
    keys: Iterable[str],
    jobs: int = 8,
    progress: bool = False,
    every_record: bool = False,
    compactor: Compactor | None = None,
    landing: Landing | None = None,
) -> Reindexed:
    """Write the missing index objects of the records under ``keys``, ``jobs`` at a time.

    ``every_record`` says ``keys`` are all the store's records: once they are indexed, every
    name has its entry, and the store is marked so. With a ``compactor``, every closed day of
    the services of those records that has no compact gets one, once its runs are indexed.
    ``landing`` bounds the write delay of the lineage feed entries it appends (``blast.feed``).
    """
    from tqdm import tqdm

    index = Index(storage, prefix)
    done = Reindexed()
    todo = list(keys)

    services: set[ServiceRef] = set()

    def one(key: str) -> tuple[int, bool] | None:
        try:
            record = orjson.loads(storage.read(key))
            identity = identity_from_path(
                record["organization"], record["project"], record["service"], record["run_id"]
            )
            facts = RunFacts.from_fields(identity, record, record["received_at"])
        except (ObjectNotFound, InvalidInput, ValueError, KeyError, TypeError):
            return None
        created = index.add(facts)
        services.add(facts.service)
        # The run's lineage objects too, when an ingest stopped before them (blast/derive.py).
        graph = RunGraph.from_artifact(record.get("artifact") or {}, identity.run_id)
        now = now_ms()
        time_ms, received_at = facts.summary.time_ms, record["received_at"]
        return created, feed_run(
            storage, prefix, identity, key, time_ms, received_at, graph, now, landing=landing
        )

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(one, todo)
        for key, created in zip(
            todo, tqdm(results, total=len(todo), unit="run", disable=not progress), strict=True
        ):
            done.records += 1
            if created is None:
                log.warning("not a readable record", extra={"fields": {"key": key}})
                done.unreadable.append(key)
            else:
                done.created += created[0]
                done.lineage += created[1]
    if every_record:
        index.names.mark_complete()
    if compactor is not None:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            done.compacts = sum(pool.map(compactor.compact_service, sorted(services, key=str)))
            # Only after the whole store: an organization's day compacted while part of it is
            # still to be indexed would miss those runs for good.
            organizations = sorted({s.organization for s in services}) if every_record else []
            made = pool.map(compactor.compact_organization, organizations)
            done.organization_compacts = sum(made)
    return done


def reindex_command(
    settings: Settings, jobs: int, progress: bool, scope: tuple[str, ...] = ()
) -> int:
    """Rebuild the index of the configured store (or of a sanitised ``scope``); 1 if a record
    could not be read."""
    logs.configure(settings.log_level)
    storage = open_storage(settings)
    keys = record_keys(storage, settings.object_prefix, scope)
    grace_ms = settings.compact_grace_seconds * 1000
    done = reindex(
        storage,
        settings.object_prefix,
        keys,
        jobs=jobs,
        progress=progress,
        every_record=not scope,
        compactor=Compactor(storage, settings.object_prefix, grace_ms),
        landing=Landing(settings.lineage_skew_seconds * 1000 // 2, now_ms),
    )
    summary = {
        "records": done.records,
        "created": done.created,
        "lineage": done.lineage,
        "compacts": done.compacts,
        "organization_compacts": done.organization_compacts,
        "unreadable": done.unreadable,
    }
    print(orjson.dumps(summary).decode(), flush=True)
    return 1 if done.unreadable else 0
