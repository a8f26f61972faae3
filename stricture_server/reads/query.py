"""The read API's answers about runs, from prefix listings of the run index.

See :mod:`..runstore.index`.

The listings of names (organizations, projects, services) are in :mod:`.listings`.

Each answer costs a known number of storage requests (docs/storage.md, "Index"): a listing
is one request per 1000 keys, and summaries come from key names, so a page of runs is usually
one listing and ``latest`` is one listing plus one read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from itertools import chain
from typing import Any

from ..blast.impacts import stored_impacts
from ..compact.build import Compactor
from ..compact.rollup_artifact import Token
from ..compact.scope import Scope
from ..compact.stats import Stats
from ..compact.views import RunView
from ..compact.walk import CompactedWalk
from ..errors import InvalidInput, ObjectNotFound, Problem, RecordNotFound
from ..runstore.entries import (
    Entry,
    Summary,
    day_of,
    format_ms,
    newest_before,
    oldest_after,
    parse_commit,
    parse_timeline,
)
from ..runstore.index import COMMITS, TIMELINE, ServiceRef, sound_entry
from ..runstore.records import RunIdentity, sanitized
from ..runstore.runs import RunStore, StoredRun, checked
from ..storage import Storage
from .cursor import Cursor, decode
from .query_params import CHANGES, RUNS, Args, Query, parse

Answer = dict[str, Any]
Parser = Callable[[str], Entry | None]


def _service(organization: str, project: str, service: str) -> ServiceRef:
    names = {"organization": organization, "project": project, "service": service}
    return ServiceRef(**sanitized(names))


class Queries:
    """Answers the read API from the index objects and the records of a :class:`RunStore`."""

    def __init__(self, runs: RunStore, compactor: Compactor | None = None) -> None:
        self.runs = runs
        self.storage = runs.storage
        self.prefix = runs.prefix
        self.compactor = compactor
        """Reads the change feed from compacts where there are (and makes them); None: never."""

    def latest(self, identity: RunIdentity) -> StoredRun:
        """The service's latest run, its record checked: one listing and one read."""
        service = ServiceRef(identity.organization, identity.project, identity.service)
        base = service.index_prefix(self.prefix) + TIMELINE
        for key in self.storage.list(base):
            entry = parse_timeline(key[len(base) :])
            if entry is None:
                continue
            run = service.run(entry.run_id)
            record_key = run.payload_key(self.prefix, day_of(entry.time_ms))
            try:
                return checked(run, record_key, self.storage.read(record_key))
            except ObjectNotFound:
                # Not where its time says: a record older than this rule; its claim knows.
                return self.runs.read_record(run)
        raise RecordNotFound(f"{service.location}/latest")

    def runs_of(self, organization: str, project: str, service: str, args: Args) -> Answer:
        """A page of a service's run summaries, newest first, by date range or commit."""
        query = parse(args, RUNS)
        ref = _service(organization, project, service)
        base = ref.index_prefix(self.prefix)
        if query.commit_sha:
            listing = base + COMMITS
            found, cursor = self._page(listing, query.commit_sha, "k", parse_commit, query)
        else:
            listing = base + TIMELINE
            start = newest_before(query.end_ms) if query.end_ms is not None else ""
            stop = oldest_after(query.start_ms) if query.start_ms is not None else None
            found, cursor = self._page(listing, "", "t", parse_timeline, query, start, stop)
        runs = []
        for entry in found:
            summary = entry.summary or self._summary(listing + entry.name)
            if summary is not None:
                runs.append(summary.as_json(ref.run(summary.run_id).location))
        return {**_names(ref), "runs": runs, "next_cursor": cursor}

    def _page(
        self,
        base: str,
        within: str,
        kind: str,
        parser: Parser,
        query: Query,
        start: str = "",
        stop: str | None = None,
    ) -> tuple[list[Entry], str | None]:
        after = base + start if start else ""
        if query.cursor is not None:
            resume = decode(query.cursor, kind, lambda name: parser(name) is not None)
            after = max(after, base + resume.name)
        found: list[Entry] = []
        for key in self.storage.list(base + within, after):
            name = key[len(base) :]
            if stop is not None and name > stop:
                break
            entry = parser(name)
            if entry is None or not query.in_range(entry.time_ms):
                continue
            if len(found) == query.limit:
                return found, Cursor(kind, found[-1].name).encode()
            found.append(entry)
        return found, None

    def changes_of(self, organization: str, project: str, service: str, args: Args) -> Answer:
        """A page of the drift changes in a service's diffs, newest run first."""
        query = parse(args, CHANGES)
        ref = _service(organization, project, service)
        after = newest_before(query.end_ms) if query.end_ms is not None else ""
        resume = None
        if query.cursor is not None:
            resume = decode(query.cursor, "c", lambda name: parse_timeline(name) is not None)
            # Just before the cursor's run, so that its own entry comes first.
            after = max(after, resume.name[:-1])
        runs = self.runs_after(ref, query, after)
        if resume is not None:
            runs = _starting_at(runs, resume.name)
        offset = resume.offset if resume else 0
        items: list[Answer] = []
        for name, index, item in self.service_changes(ref, query, runs):
            if resume is not None and name == resume.name and index < offset:
                continue
            if len(items) == query.limit:
                next_cursor = Cursor("c", name, index).encode()
                return {**_names(ref), "changes": items, "next_cursor": next_cursor}
            items.append(item)
        return {**_names(ref), "changes": items, "next_cursor": None}

    def runs_after(self, ref: ServiceRef, query: Query, after: str) -> Iterator[RunView]:
        """The service's runs whose timeline names sort after ``after``, newest first, up to
        the query's ``from``: from its compacts where there are, else from its timeline."""
        if self.compactor is not None:
            return self.compacted_runs(self.compactor.service(ref), query, after)
        stop = oldest_after(query.start_ms) if query.start_ms is not None else None
        base = ref.index_prefix(self.prefix) + TIMELINE
        return _timeline_runs(self.storage, base, after, stop, partial(self._view, ref))

    def compacted_runs(self, scope: Scope, query: Query, after: str) -> Iterator[RunView]:
        """The runs of a scope (a service, or an organization) whose entries' names sort after
        ``after``, newest first, up to the query's ``from``, from its compacts where there are."""
        assert self.compactor is not None
        stop = oldest_after(query.start_ms) if query.start_ms is not None else None

        def impacts(name: str, summary: Summary) -> list[str | None]:
            run = scope.run_of(name)
            if run is None:
                return []
            return stored_impacts(self.storage, self.prefix, run.ref, summary)

        def timeline(name: str, entry: Entry) -> RunView:
            run = scope.run_of(name)
            if run is None:
                return RunView(entry, lambda: None, lambda _: [])
            return self._view(run.ref, run.name, entry, partial(impacts, name))

        token = Token.of(query.change_types, query.impacts)
        walk = CompactedWalk(self.compactor, scope, timeline, impacts, token)
        return walk.runs(after, stop, partial(_may_match, query))

    def _view(
        self,
        ref: ServiceRef,
        name: str,
        entry: Entry,
        impacts: Callable[[Summary], Sequence[str | None]] | None = None,
    ) -> RunView:
        """A run of a service's timeline, read when its changes are wanted."""
        key = ref.index_prefix(self.prefix) + TIMELINE + name

        def body() -> tuple[Summary, list[dict[str, Any]]] | None:
            try:
                return sound_entry(key, self.storage.read(key))
            except ObjectNotFound:
                # Listed in its organization's feed while its ingest is still writing it.
                return None

        def stored(summary: Summary) -> list[str | None]:
            return stored_impacts(self.storage, self.prefix, ref, summary)

        return RunView(entry, body, impacts or stored)

    def service_changes(
        self, ref: ServiceRef, query: Query, runs: Iterable[RunView]
    ) -> Iterator[tuple[str, int, Answer]]:
        """The changes matching ``query`` in ``runs`` (newest first) of one service: each
        with its run's timeline name and its index in the run's diff."""
        for run in runs:
            yield from self.run_changes(ref, query, run)

    def run_changes(
        self, ref: ServiceRef, query: Query, run: RunView
    ) -> Iterator[tuple[str, int, Answer]]:
        """The changes matching ``query`` in one run of a service: each with its entry's name
        and its index in the run's diff."""
        entry = run.entry
        if not query.in_range(entry.time_ms) or _no_changes(entry, query):
            return
        body = run.body()
        if body is None:
            return
        summary = entry.summary or body[0]
        location = ref.run(summary.run_id).location
        impacts: Sequence[str | None] | None = None
        for index, change in enumerate(body[1]):
            if not _matches(change, query):
                continue
            if impacts is None:  # read once per run, and only for a run with a match
                impacts = run.impacts(summary)
            impact = impacts[index] if index < len(impacts) else None
            if query.impacts is not None and impact not in query.impacts:
                continue
            item = _change(summary, location, index, change)
            yield run.name, index, {**item, "impact": impact}

    def _summary(self, key: str) -> Summary | None:
        body = sound_entry(key, self.storage.read(key))
        return body[0] if body else None


def _timeline_runs(
    storage: Storage,
    base: str,
    after: str,
    stop: str | None,
    timeline: Callable[[str, Entry], RunView],
) -> Iterator[RunView]:
    """The runs of a timeline listing, each read when its changes are wanted."""
    for key in storage.list(base, base + after if after else ""):
        name = key[len(base) :]
        if stop is not None and name > stop:
            return
        entry = parse_timeline(name)
        if entry is not None:
            yield timeline(name, entry)


def _starting_at(runs: Iterator[RunView], name: str) -> Iterator[RunView]:
    """``runs``, refused as a bad cursor unless the first is the run ``name`` (the cursor's)."""
    first = next(runs, None)
    if first is None or first.name != name:
        problem = Problem("?cursor", "not a cursor this listing gave")
        raise InvalidInput("invalid cursor", [problem])
    return chain([first], runs)


def _names(ref: ServiceRef) -> Answer:
    return {"organization": ref.organization, "project": ref.project, "service": ref.service}


def _no_changes(entry: Entry, query: Query) -> bool:
    # Decided from the counts in the entry's name, without reading it, when they are there.
    summary = entry.summary
    if summary is None:
        return False
    if summary.counts is None:
        return True
    wanted = summary.counts.of(query.severities) if query.severities else summary.counts.total
    return wanted == 0


def _may_match(query: Query, stats: Stats) -> bool:
    return stats.may_match(query.severities, query.change_types, query.impacts)


def _matches(change: dict[str, Any], query: Query) -> bool:
    return (query.severities is None or change.get("severity") in query.severities) and (
        query.change_types is None or change.get("change_type") in query.change_types
    )


def _change(summary: Summary, location: str, index: int, change: dict[str, Any]) -> Answer:
    return {
        "run_id": summary.run_id,
        "commit_sha": summary.commit_sha,
        "time": format_ms(summary.time_ms),
        "location": location,
        "index": index,
        "change": change,
    }
