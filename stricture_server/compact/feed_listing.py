"""A scope's feed entries in feed order, from a listing of either layout (:mod:`.org_layout`)."""

from __future__ import annotations

from collections.abc import Iterator

from ..runstore.entries import Entry
from ..storage import Storage
from .org_layout import feed_name
from .scope import Scope


def entries(storage: Storage, scope: Scope, after: str) -> Iterator[Entry]:
    """The entries of a scope's feed whose names sort after ``after``, in feed order, each
    named by its feed name: a service's timeline, or its organization's feed in both layouts."""
    base = scope.base
    if not scope.org_wide:
        for key in storage.list(base, base + after if after else ""):
            entry = scope.entry(key[len(base) :])
            if entry is not None:
                yield entry
        return
    # From the beginning of the run ``after`` names: its entries in both layouts sort after it.
    start = after.partition("/")[0]
    group: dict[str, Entry] = {}
    run = None
    for key in storage.list(base, base + start if start else ""):
        entry = scope.entry(feed_name(key[len(base) :]))
        if entry is None:
            continue
        timeline = entry.name.partition("/")[0]
        if timeline != run:
            yield from sorted(group.values(), key=_name)
            group, run = {}, timeline
        if entry.name > after:
            group[entry.name] = entry  # a run stored in both layouts, once
    yield from sorted(group.values(), key=_name)


def _name(entry: Entry) -> str:
    return entry.name
