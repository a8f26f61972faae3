"""The org-wide change feed: every service's change feed of an organization, merged.

The services come from the name entries (:mod:`.listings`); each service's feed is read as
``GET /v1/changes/{org}/{project}/{service}`` reads it, and the feeds are merged newest run
first. Runs of one time are ordered by their timeline name, then by project and service, and
a run's changes by their index, so the order is total and a cursor (the position of the next
change: its run's timeline name, its service and its index) resumes exactly there.

With compacts (the server's reads), the organization's own feed entries and compacts are
read instead (:mod:`..compact.scope`): a page costs what one service's page costs, a few
requests, whatever the number of services, and gives the same answer and cursors.

Without them, the cost of a page: one listing of the organization's projects and one per
project (the services), then, per service, one listing of its timeline from the cursor on and
one read per run it passes before the page fills (with its blast radius read for a run with a
match). A service with no change left to give still costs its listing: a page of an
organization of ``n`` services is at least ``n`` listings. Each service's first change is
fetched 16 services at a time; the rest of the page, one after the other.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import total_ordering
from itertools import chain, islice
from typing import Any

from ..compact.keys import org_feed_name
from ..runstore.entries import newest_before, parse_timeline
from ..runstore.index import ServiceRef
from ..runstore.records import sanitized
from ..storage.local_first import carried
from .cursor import Cursor, decode
from .listings import LATEST_JOBS, Listings
from .query import Queries
from .query_params import CHANGES, Args, Query, parse

Answer = dict[str, Any]
Item = tuple["Position", Answer]

_POSITION = re.compile(r"^(?P<project>[a-z0-9-]+)\.(?P<service>[a-z0-9-]+)\.(?P<name>.+)$")


@total_ordering
@dataclass(frozen=True, slots=True)
class Position:
    """Where a change stands in the org feed; the feed lists positions in ascending order."""

    name: str
    """The timeline name of its run (newest first)."""
    project: str
    service: str
    index: int

    def __lt__(self, other: Position) -> bool:
        return self._key() < other._key()

    def _key(self) -> tuple[str, str, str, int]:
        # As the organization's feed entries sort (``<name>/<project>/<service>``): a project
        # followed by ``/`` sorts after its longer namesakes (``a-b/`` before ``a/``).
        return (self.name, self.project + "/", self.service, self.index)

    def cursor(self) -> str:
        """The cursor of a page that starts at this change."""
        return Cursor("x", f"{self.project}.{self.service}.{self.name}", self.index).encode()


def _position(text: str, offset: int) -> Position | None:
    match = _POSITION.match(text)
    if match is None or parse_timeline(match["name"]) is None:
        return None
    return Position(match["name"], match["project"], match["service"], offset)


def _resume(cursor: str) -> Position:
    found: list[Position] = []

    def valid(text: str) -> bool:
        position = _position(text, 0)
        if position is not None:
            found.append(position)
        return position is not None

    plain = decode(cursor, "x", valid)
    head = found[0]
    return Position(head.name, head.project, head.service, plain.offset)


def _primed(feeds: list[Iterator[Item]]) -> list[Iterator[Item]]:
    """The feeds, each with its first item already fetched, ``LATEST_JOBS`` at a time: the
    merge needs every service's first item before it gives one, and each costs a listing and
    reads, which one after the other are most of a page's time on an object store."""

    def first(feed: Iterator[Item]) -> Iterator[Item]:
        head = next(feed, None)
        return iter(()) if head is None else chain([head], feed)

    with ThreadPoolExecutor(max_workers=max(1, min(LATEST_JOBS, len(feeds)))) as pool:
        return list(pool.map(carried(first), feeds))


class OrgChanges:
    """Answers ``GET /v1/changes/{org}``."""

    def __init__(self, queries: Queries, listings: Listings) -> None:
        self.queries = queries
        self.listings = listings

    def changes_of(
        self,
        organization: str,
        args: Args,
        visible: Callable[[ServiceRef], bool] = lambda ref: True,
    ) -> Answer:
        """A page of the drift changes of every ``visible`` service of an organization, newest
        run first."""
        query = parse(args, CHANGES)
        org = sanitized({"organization": organization})["organization"]
        resume = _resume(query.cursor) if query.cursor is not None else None
        compactor = self.queries.compactor
        if compactor is not None and compactor.org_feeds_complete():
            feed = self._compacted(org, query, resume, visible)
        else:
            refs = [ref for ref in self.listings.every_service(org) if visible(ref)]
            feed = heapq.merge(*_primed([self._feed(ref, query, resume) for ref in refs]))
        page = list(islice(feed, query.limit + 1))
        items = [item for _, item in page[: query.limit]]
        next_cursor = page[query.limit][0].cursor() if len(page) > query.limit else None
        return {"organization": org, "changes": items, "next_cursor": next_cursor}

    def _compacted(
        self,
        organization: str,
        query: Query,
        resume: Position | None,
        visible: Callable[[ServiceRef], bool],
    ) -> Iterator[Item]:
        """The organization's matching changes from ``resume`` on, from its own compacts and
        feed entries: a few requests a page, whatever its number of services."""
        assert self.queries.compactor is not None
        scope = self.queries.compactor.organization(organization)
        after = newest_before(query.end_ms) if query.end_ms is not None else ""
        if resume is not None:
            # Just before the cursor's run: its own entry is listed too, then filtered below.
            name = org_feed_name(resume.name, resume.project, resume.service)
            after = max(after, name[:-1])
        for view in self.queries.compacted_runs(scope, query, after):
            run = scope.run_of(view.name)
            if run is None or not visible(run.ref):
                continue
            for _, index, item in self.queries.run_changes(run.ref, query, view):
                position = Position(run.name, run.ref.project, run.ref.service, index)
                if resume is None or position >= resume:
                    yield position, item

    def _feed(self, ref: ServiceRef, query: Query, resume: Position | None) -> Iterator[Item]:
        """One service's matching changes from ``resume`` on, each with its position."""
        after = newest_before(query.end_ms) if query.end_ms is not None else ""
        if resume is not None:
            # Just before the cursor's run: its own entry is listed too, then filtered below.
            after = max(after, resume.name[:-1])
        runs = self.queries.runs_after(ref, query, after)
        for name, index, item in self.queries.service_changes(ref, query, runs):
            position = Position(name, ref.project, ref.service, index)
            if resume is None or position >= resume:
                yield position, item
