"""Domain errors. Nothing here knows HTTP: ``http_errors`` maps them to responses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class StrictureError(Exception):
    """Base of every error the service raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: where (a JSON pointer) and what."""

    path: str
    message: str


class InvalidInput(StrictureError):
    """The request content is not acceptable; ``problems`` lists every reason found."""

    def __init__(
        self,
        message: str,
        problems: Sequence[Problem] = (),
        *,
        omitted: int = 0,
        omitted_is_lower_bound: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.problems = tuple(problems)
        self.omitted = omitted
        """Problems found but not listed; at least this many if ``omitted_is_lower_bound``."""
        self.omitted_is_lower_bound = omitted_is_lower_bound


class BodyTimedOut(StrictureError):
    """The client went silent in the middle of its body for longer than the read timeout."""


class BodyTooLarge(StrictureError):
    """The body, after decompression, is over the configured cap."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body is over the limit of {limit} bytes")
        self.limit = limit


class UnsupportedEncoding(StrictureError):
    """The body is sent with a ``Content-Encoding`` the service does not decode."""

    def __init__(self, encoding: str) -> None:
        super().__init__(f"unsupported Content-Encoding {encoding!r}; send identity or gzip")
        self.encoding = encoding


class UnsupportedMediaType(StrictureError):
    """The body is declared as something other than JSON."""


class Unauthenticated(StrictureError):
    """No credential, or a wrong one."""


class Forbidden(StrictureError):
    """A known caller without a grant for this action on this target."""

    def __init__(self, caller: str, action: str, target: str) -> None:
        super().__init__(f"{caller} may not {action} {target}")
        self.action = action
        self.target = target


class RecordExists(StrictureError):
    """A run with this identity is stored already, with different content."""

    def __init__(
        self,
        location: str,
        message: str = "a run with this run_id is stored already with different content",
    ) -> None:
        super().__init__(message)
        self.location = location


class RecordNotFound(StrictureError):
    """No record is stored under this identity."""


class ObjectExists(StrictureError):
    """Storage primitive: create-if-absent found the key taken."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class ObjectNotFound(StrictureError):
    """Storage primitive: no object under this key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class NotFoundLocally(ObjectNotFound):
    """The mirror's local copy has no object under this key, and its object store is away."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(key)
        self.reason = reason
        """Why the object store could not be asked."""


class StorageUnavailable(StrictureError):
    """The store cannot be reached or failed; the caller may retry later."""

    def __init__(self, reason: str, retry_after: int = 5) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RecordCorrupt(StrictureError):
    """A run's stored record or claim fails its integrity check: it cannot be served."""

    def __init__(self, location: str, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.location = location
        self.key = key
        self.reason = reason


class RecordMissing(RecordNotFound):
    """A run id is claimed but its record is not stored (an ingest stopped between the two)."""

    def __init__(self, location: str, key: str) -> None:
        super().__init__(key)
        self.location = location
        self.key = key


class BucketMissing(StorageUnavailable):
    """The object store answered that the configured bucket does not exist."""


class UnsupportedEvent(StrictureError):
    """A function platform handed over an event that is not an HTTP request the app serves."""

    def __init__(self, kind: str, supported: str) -> None:
        super().__init__(f"unsupported event: {kind}; this function serves {supported}")
        self.kind = kind


class LineageObjectInvalid(StrictureError):
    """A stored derived lineage object does not match its schema: written by a bug or by hand."""


class UnknownSystem(StrictureError):
    """A lineage endpoint was asked about a system the org graph does not know."""

    def __init__(self, system: str) -> None:
        super().__init__(f"system {system!r} is not in the organization's lineage graph")
        self.system = system


class RegistryNotFound(StrictureError):
    """The organization has stored no system registry yet."""


class TooManyValues(StrictureError):
    """The body holds more JSON values than the configured limit; refused before parsing."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body holds more than {limit} JSON values")
        self.limit = limit


class AlertNotFound(StrictureError):
    """No alert of the organization has this id."""


class AlertPending(StrictureError):
    """The alert is still being delivered: only a delivered or dead alert can be requeued."""
