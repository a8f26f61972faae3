"""The system registry of each organization: immutable versions, the newest one wins.

``POST /v1/registry/{org}`` creates a new version under a new key; nothing is overwritten. The
newest version is the first key listed (:mod:`.keys`), so reading it is one listing and one
read; the parsed registry is kept per version, so an ingest does not check it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ..errors import LineageObjectInvalid, RegistryNotFound
from ..lineage.registry import Registry
from ..runstore.runs import format_time
from ..storage import Storage
from . import keys


@dataclass(frozen=True, slots=True)
class RegistryVersion:
    """One stored version of an organization's registry."""

    version: str
    created_at: str
    document: dict[str, Any]
    registry: Registry


class RegistryStore:
    """Stores and reads the registry versions of every organization."""

    def __init__(
        self, storage: Storage, prefix: str, clock: Callable[[], datetime], max_errors: int
    ) -> None:
        self.storage = storage
        self.prefix = prefix
        self.clock = clock
        self.max_errors = max_errors
        self._parsed: dict[str, RegistryVersion] = {}
        self._lock = threading.Lock()

    def add(self, organization: str, document: Any) -> RegistryVersion:
        """Check ``document`` (every violation reported) and store it as a new version."""
        registry = Registry.parse(document, max_errors=self.max_errors)
        now = self.clock()
        name = keys.newest_first_name(int(now.timestamp() * 1000))
        # The key leads with the inverted time so the newest lists first; the version is the
        # id after it, itself ordered by time (UUIDv7).
        version = name.partition("-")[2].removesuffix(".json")
        body = {"version": version, "created_at": format_time(now), "registry": document}
        self.storage.create(self._base(organization) + name, orjson.dumps(body))
        return RegistryVersion(version, body["created_at"], document, registry)

    def latest(self, organization: str) -> RegistryVersion | None:
        """The newest version, or ``None`` when the organization has stored none."""
        for key in self.storage.list(self._base(organization)):
            with self._lock:
                found = self._parsed.get(key)
            if found is None:
                found = _parse(self.storage.read(key))
                with self._lock:
                    self._parsed[key] = found
            return found
        return None

    def require(self, organization: str) -> RegistryVersion:
        """The newest version, or :class:`RegistryNotFound`."""
        found = self.latest(organization)
        if found is None:
            raise RegistryNotFound(f"organization {organization!r} has no system registry")
        return found

    def _base(self, organization: str) -> str:
        return keys.org_root(self.prefix, organization) + keys.REGISTRY


def _parse(data: bytes) -> RegistryVersion:
    try:
        body = orjson.loads(data)
        document = body["registry"]
        return RegistryVersion(
            body["version"], body["created_at"], document, Registry.parse(document)
        )
    except Exception as exc:
        # Stored only after it passed the same check: anything else was written by hand.
        raise LineageObjectInvalid(f"stored registry unreadable: {exc!r}") from None
