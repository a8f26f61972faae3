"""The organization feed entries of runs stored before they existed, written from the index.

Every ingest writes its run's entry in its organization's feed (:mod:`..runstore.index`), and
``reindex`` writes those of every record. A store written by an older version has runs
without one: ``stricture-server compact`` writes them from the services' timelines, listings
only, then the organization's late entries from the services' late entries (after the feed
entries, as an ingest does, so a compaction never misses a late run it did not list). An entry
stored in either layout (:mod:`.org_layout`) counts; a missing one is written flat.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress

import orjson

from ..errors import ObjectExists, ObjectNotFound
from ..runstore.entries import parse_timeline
from ..runstore.index import TIMELINE, ServiceRef
from ..storage import Storage
from .keys import LATE, org_feed_name, service_root
from .org_layout import feed_name, stored_name
from .scope import Scope


def backfill(storage: Storage, scope: Scope, refs: Iterable[ServiceRef]) -> int:
    """Write the missing feed and late entries of an organization's ``refs``; how many."""
    refs = list(refs)
    made = 0
    have = _names(storage, scope.base)
    for ref in refs:
        base = ref.index_prefix(scope.prefix) + TIMELINE
        for key in storage.list(base):
            name = key[len(base) :]
            feed = org_feed_name(name, ref.project, ref.service)
            if parse_timeline(name) is not None and feed not in have:
                made += _create(storage, scope.base + stored_name(feed), b"")
    late_base = scope.root + LATE
    have = _names(storage, late_base)
    for ref in refs:
        base = service_root(scope.prefix, ref.organization, ref.project, ref.service) + LATE
        for key in storage.list(base):
            name = f"{key[len(base) :]}/{ref.project}/{ref.service}"
            if name in have or scope.parse_late(name) is None:
                continue
            try:
                body = orjson.loads(storage.read(key))
                body["name"] = org_feed_name(body["name"], ref.project, ref.service)
            except (ObjectNotFound, ValueError, KeyError, TypeError):
                continue  # corrupt: the service's feed skips it too
            made += _create(storage, late_base + stored_name(name), orjson.dumps(body))
    return made


def _names(storage: Storage, base: str) -> set[str]:
    """The feed (or late) names of the entries under ``base``, in either layout."""
    return {feed_name(key[len(base) :]) for key in storage.list(base)}


def _create(storage: Storage, key: str, body: bytes) -> int:
    with suppress(ObjectExists):
        storage.create(key, body)
        return 1
    return 0
