"""The listings of names: organizations, an organization's projects, a project's services.

A page is one listing of name entries (:mod:`..runstore.names`): at most ⌈(``limit`` + 1) / 1000⌉
storage requests, whatever the number of names or runs, plus, for services, one listing per
service on the page for its latest run, made in parallel. A store whose names are not yet
marked complete (written before name entries existed, and not reindexed since) is listed by
scanning the index instead, as before them: the same answers, one request per name.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..runstore.entries import parse_timeline
from ..runstore.identity import MAX_LENGTH, sanitize
from ..runstore.index import TIMELINE, ServiceRef, org_prefix, project_prefix, sound_entry
from ..runstore.names import (
    Names,
    index_root,
    organizations_prefix,
    projects_prefix,
    services_prefix,
)
from ..runstore.records import sanitized
from ..storage import Storage
from ..storage.local_first import carried
from .cursor import Cursor, decode
from .query_params import PAGE, Args, Query, parse

Answer = dict[str, Any]

LATEST_JOBS = 16
"""How many services' latest runs a page of services looks up at once."""


def _is_identity(name: str) -> bool:
    # ASCII first: sanitize raises on other names instead of answering.
    return name.isascii() and sanitize(name) == name and 0 < len(name) <= MAX_LENGTH


class Listings:
    """Pages of names, from the name entries of a store, or from its index before them."""

    def __init__(self, storage: Storage, prefix: str) -> None:
        self.storage = storage
        self.prefix = prefix
        self.names = Names(storage, prefix)

    def organizations(self, args: Args) -> Answer:
        """A page of the organizations that have runs."""
        query = parse(args, PAGE)
        if self.names.is_complete():
            found = self._page(organizations_prefix(self.prefix), "o", query)
        else:
            found = self._scan(index_root(self.prefix), "org", "o", query)
        names, cursor = found
        organizations = [{"organization": o, "location": f"/v1/artifacts/{o}"} for o in names]
        return {"organizations": organizations, "next_cursor": cursor}

    def projects_of(self, organization: str, args: Args) -> Answer:
        """A page of an organization's projects."""
        query = parse(args, PAGE)
        names = sanitized({"organization": organization})
        org = names["organization"]
        if self.names.is_complete():
            found, cursor = self._page(projects_prefix(self.prefix, org), "p", query)
        else:
            found, cursor = self._scan(org_prefix(self.prefix, org), "project", "p", query)
        projects = [{"project": p, "location": f"/v1/artifacts/{org}/{p}"} for p in found]
        return {**names, "projects": projects, "next_cursor": cursor}

    def services_of(self, organization: str, project: str, args: Args) -> Answer:
        """A page of a project's services, each with its latest run's summary."""
        query = parse(args, PAGE)
        names = sanitized({"organization": organization, "project": project})
        org, proj = names["organization"], names["project"]
        if self.names.is_complete():
            found, cursor = self._page(services_prefix(self.prefix, org, proj), "s", query)
        else:
            found, cursor = self._scan(
                project_prefix(self.prefix, org, proj), "service", "s", query
            )
        refs = [ServiceRef(org, proj, name) for name in found]
        with ThreadPoolExecutor(max_workers=max(1, min(LATEST_JOBS, len(refs)))) as pool:
            latest = list(pool.map(carried(self._latest), refs))
        services = [
            {"service": ref.service, "location": ref.location, "latest": summary}
            for ref, summary in zip(refs, latest, strict=True)
        ]
        return {**names, "services": services, "next_cursor": cursor}

    def every_service(self, organization: str) -> list[ServiceRef]:
        """Every service of an organization (a sanitised name), sorted by project and service:
        one listing of its projects and one per project."""
        everything = parse({}, PAGE)  # no cursor: every name, from the first
        if self.names.is_complete():
            projects = list(self._all(projects_prefix(self.prefix, organization)))
            return [
                ServiceRef(organization, project, service)
                for project in projects
                for service in self._all(services_prefix(self.prefix, organization, project))
            ]
        base = org_prefix(self.prefix, organization)
        return [
            ServiceRef(organization, project, service)
            for project in list(self._distinct(base, "project", "p", everything))
            for service in self._distinct(
                project_prefix(self.prefix, organization, project), "service", "s", everything
            )
        ]

    def _all(self, base: str, after: str = "") -> Iterator[str]:
        """The names listed under ``base`` after the key ``after``."""
        for key in self.storage.list(base, after):
            name = key[len(base) :]
            # Not a name entry (a stray file): never listed.
            if _is_identity(name):
                yield name

    def _latest(self, ref: ServiceRef) -> Answer | None:
        base = ref.index_prefix(self.prefix) + TIMELINE
        for key in self.storage.list(base):
            entry = parse_timeline(key[len(base) :])
            if entry is None:
                continue
            if entry.summary is None:
                body = sound_entry(key, self.storage.read(key))
                if body is None:
                    continue  # corrupt: skipped, the next entry is the latest sound one
                return body[0].as_json(ref.run(body[0].run_id).location)
            return entry.summary.as_json(ref.run(entry.summary.run_id).location)
        return None

    def _page(self, base: str, kind: str, query: Query) -> tuple[list[str], str | None]:
        """A page of the names listed under ``base``: one listing of ``limit`` + 1 keys."""
        after = ""
        if query.cursor is not None:
            after = base + decode(query.cursor, kind, _is_identity).name
        found: list[str] = []
        for name in self._all(base, after):
            if len(found) == query.limit:
                return found, Cursor(kind, found[-1]).encode()
            found.append(name)
        return found, None

    def _scan(self, base: str, label: str, kind: str, query: Query) -> tuple[list[str], str | None]:
        """A page of the names found by scanning the index, for a store not marked complete."""
        found: list[str] = []
        for name in self._distinct(base, label, kind, query):
            if len(found) == query.limit:
                return found, Cursor(kind, found[-1]).encode()
            found.append(name)
        return found, None

    def _distinct(self, base: str, label: str, kind: str, query: Query) -> Iterator[str]:
        """Each distinct ``<label>=<name>/`` under ``base``, one listing each.

        After a name is found, the next listing starts after every key under it (``~`` sorts
        after every character of a key), so the cost is one request per name, whatever the
        number of runs.
        """
        after = ""
        if query.cursor is not None:
            after = f"{base}{label}={decode(query.cursor, kind, _is_identity).name}/~"
        while True:
            key = next(iter(self.storage.list(f"{base}{label}=", after)), None)
            if key is None:
                return
            name = key[len(base) + len(label) + 1 :].partition("/")[0]
            yield name
            after = f"{base}{label}={name}/~"
