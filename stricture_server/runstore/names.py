"""Name entries: one small object per organization, project and service, to list them by page.

Under ``<prefix>/index/v1/names/``:

- ``organizations/<o>``, ``projects/org=<o>/<p>``, ``services/org=<o>/project=<p>/<s>``: one
  empty-ish object per name, created once (create-if-absent) by the first ingest that uses it,
  so a page of names is one listing whatever the number of runs;
- ``complete``: created once every name in the store has its entry (by a full ``reindex``, or
  by the first ingest of a store that held no index yet). Until it exists, the store may hold
  index objects written before name entries existed, and listings scan the index instead.

The entries of a service are created organization first, service last: a service's entry
exists only once its project's and organization's do, so finding it is enough to skip all
three. Nothing here is ever rewritten; ``stricture-server reindex`` recreates what is missing.
"""

from __future__ import annotations

from contextlib import suppress

import orjson

from ..compact.keys import org_feeds_complete_key
from ..errors import ObjectExists, ObjectNotFound, StorageUnavailable
from ..storage import Storage

REMEMBERED = 65_536
"""How many names a process remembers as having their entry, before it forgets them all."""

Name = tuple[str, ...]
"""An organization, an organization and project, or all three with the service."""


def index_root(prefix: str) -> str:
    """The key prefix of every index object (see :mod:`.index`)."""
    return f"{prefix}/index/v1/" if prefix else "index/v1/"


def names_root(prefix: str) -> str:
    """The key prefix of every name entry."""
    return f"{index_root(prefix)}names/"


def organizations_prefix(prefix: str) -> str:
    """The key prefix of the organizations' entries."""
    return f"{names_root(prefix)}organizations/"


def projects_prefix(prefix: str, organization: str) -> str:
    """The key prefix of an organization's projects' entries."""
    return f"{names_root(prefix)}projects/org={organization}/"


def services_prefix(prefix: str, organization: str, project: str) -> str:
    """The key prefix of a project's services' entries."""
    return f"{names_root(prefix)}services/org={organization}/project={project}/"


def complete_key(prefix: str) -> str:
    """The key of the marker saying every name has its entry."""
    return f"{names_root(prefix)}complete"


def entry_key(prefix: str, name: Name) -> str:
    """The key of one name's entry."""
    if len(name) == 1:
        return organizations_prefix(prefix) + name[0]
    if len(name) == 2:
        return projects_prefix(prefix, name[0]) + name[1]
    return services_prefix(prefix, name[0], name[1]) + name[2]


def _body(name: Name) -> bytes:
    return orjson.dumps(dict(zip(("organization", "project", "service"), name, strict=False)))


class Names:
    """Creates the name entries of the services that runs are stored under."""

    def __init__(self, storage: Storage, prefix: str) -> None:
        self.storage = storage
        self.prefix = prefix
        # Names whose entry exists: entries are never removed, so this only saves requests.
        self._known: set[Name] = set()
        self._complete = False

    def add(self, organization: str, project: str, service: str) -> int:
        """Create the missing entries of a service, its project and organization; how many.

        A service seen before costs nothing; one seen first by this process costs one read
        when its entry exists (a refused create would cost three).
        """
        levels = [(organization,), (organization, project), (organization, project, service)]
        if levels[-1] in self._known:
            return 0
        created = 0
        try:
            self.storage.read(entry_key(self.prefix, levels[-1]))
        except (ObjectNotFound, StorageUnavailable):
            # The read only saves creates. Unanswered (the mirror's object store is away, and
            # the entry is not local), the creates decide, as the mirror writes them locally.
            created = sum(self._create(level) for level in levels if level not in self._known)
        self._remember(levels)
        return created

    def _create(self, name: Name) -> bool:
        try:
            self.storage.create(entry_key(self.prefix, name), _body(name))
        except ObjectExists:
            return False
        if len(name) == 1:
            self._mark_if_new_store()
        return True

    def _remember(self, names: list[Name]) -> None:
        if len(self._known) >= REMEMBERED:
            self._known.clear()
        self._known.update(names)

    def _mark_if_new_store(self) -> None:
        # A store's first organization is created before any run of it is indexed: if no
        # index object is stored yet, no name can lack its entry, and the store is complete
        # from the start. Every later ingest writes its names before its index objects.
        try:
            if self.is_complete():
                return
            if next(iter(self.storage.list(index_root(self.prefix) + "org=")), None) is None:
                self.mark_complete()
        except StorageUnavailable:
            # Unknown (the mirror's object store is away): the store stays unmarked, listed by
            # scanning until a reindex; the ingest must not fail for it.
            return

    def is_complete(self) -> bool:
        """Whether every name in the store has its entry (remembered once seen)."""
        if not self._complete:
            try:
                self.storage.read(complete_key(self.prefix))
            except ObjectNotFound:
                return False
            self._complete = True
        return True

    def mark_complete(self) -> None:
        """Say, once and for good, that every name in the store has its entry."""
        with suppress(ObjectExists):
            self.storage.create(complete_key(self.prefix), b'{"complete":true}')
        # Whoever marks the names (a new store, a full reindex) knows, with this version, that
        # every run has its organization feed entry too: a store marked by an older version
        # has no such mark until ``stricture-server compact`` writes the entries it lacks.
        with suppress(ObjectExists):
            self.storage.create(org_feeds_complete_key(self.prefix), b'{"complete":true}')
        self._complete = True
