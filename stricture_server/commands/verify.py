"""``stricture-server verify``: read every stored object and report each one that is corrupt.

Checks, for the whole store or one organization, project or service:

- each record against its digest (a truncated or edited record fails);
- each claim: that it parses, that its record is stored, and that the record has its digest
  (a claim without its record is an ingest that stopped between the two: the same body sent
  again completes it);
- each index object: that its name and body are an index entry (``reindex`` rebuilds missing
  ones; a corrupt one is skipped by the read API and must be removed by hand, then reindexed).

Read-only: it changes nothing. Each failure is logged at error level, naming the key.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import orjson

from .. import logs
from ..errors import ObjectNotFound, StorageUnavailable
from ..runstore.entries import parse_commit, parse_timeline
from ..runstore.index import COMMITS, TIMELINE, parse_entry
from ..runstore.integrity import Corrupt, parse_claim, record_digest
from ..settings import Settings
from ..storage import Storage, open_storage
from .reindex import RECORD, scope_root

log = logging.getLogger(__name__)

_CLAIM = re.compile(r"/runs/run=[^/]+\.json$")
_INDEX = re.compile(r"/service=[^/]+/(?P<kind>runs/|sha/)(?P<name>[^/]+)$")


@dataclass(slots=True)
class Verified:
    """What a verification read, and every object that failed."""

    records: int = 0
    claims: int = 0
    index: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)

    def fail(self, key: str, problem: str) -> None:
        """Count ``key`` as failed, and log it."""
        log.error("integrity check failed", extra={"fields": {"key": key, "problem": problem}})
        self.failed.append({"key": key, "problem": problem})


def _index_problem(key: str, data: bytes) -> str | None:
    match = _INDEX.search(key)
    parse = {TIMELINE: parse_timeline, COMMITS: parse_commit}
    if match is None or parse[match["kind"]](match["name"]) is None:
        return "not an index entry's name"
    try:
        parse_entry(data)
    except Corrupt as exc:
        return str(exc)
    return None


def verify(
    storage: Storage,
    prefix: str,
    scope: tuple[str, ...] = (),
    jobs: int = 8,
    progress: bool = False,
) -> Verified:
    """Read and check every record, claim and index object of ``scope``, ``jobs`` at a time."""
    from tqdm import tqdm

    keys = list(storage.list(scope_root(prefix, scope)))
    records = [key for key in keys if key.endswith(RECORD)]
    claims = [key for key in keys if _CLAIM.search(key)]
    index = list(storage.list(scope_root(prefix, scope, "index/v1")))
    done = Verified(records=len(records), claims=len(claims), index=len(index))
    stored = set(records)
    digests: dict[str, str] = {}
    bar = tqdm(total=len(records) + len(claims) + len(index), unit="object", disable=not progress)

    def each(todo: Iterable[str], check: Callable[[str, bytes], str | None]) -> None:
        # Records first, so that each claim is compared with its record's digest.
        def one(key: str) -> str | None:
            try:
                return check(key, storage.read(key))
            except ObjectNotFound:
                return "listed but gone when read"

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for key, problem in zip(todo, pool.map(one, todo), strict=True):
                bar.update()
                if problem is not None:
                    done.fail(key, problem)

    def record(key: str, data: bytes) -> str | None:
        try:
            digests[key] = record_digest(data)
        except Corrupt as exc:
            return str(exc)
        return None

    def claim(key: str, data: bytes) -> str | None:
        try:
            found = parse_claim(data)
        except Corrupt as exc:
            return str(exc)
        if found.key not in stored:
            return f"claim without its record {found.key}: send the same body again to store it"
        if found.key in digests and digests[found.key] != found.digest:
            return f"its record {found.key} has another digest"
        return None

    with bar:
        each(records, record)
        each(claims, claim)
        each(index, _index_problem)
    return done


def verify_command(
    settings: Settings, jobs: int, progress: bool, scope: tuple[str, ...] = ()
) -> int:
    """Verify the configured store (or a sanitised ``scope``); 1 if anything failed."""
    logs.configure(settings.log_level)
    storage = open_storage(settings)
    try:
        done = verify(storage, settings.object_prefix, scope, jobs=jobs, progress=progress)
    except StorageUnavailable as exc:
        log.error("storage unavailable", extra={"fields": {"reason": exc.reason}})
        return 1
    summary = {
        "records": done.records,
        "claims": done.claims,
        "index": done.index,
        "failed": done.failed,
    }
    print(orjson.dumps(summary).decode(), flush=True)
    return 1 if done.failed else 0
