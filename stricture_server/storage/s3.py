"""The ``s3`` and ``r2`` drivers: one object per key in a bucket, created with ``If-None-Match``."""

from __future__ import annotations

import base64
import functools
import hashlib
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.handlers import add_expect_header
from botocore.loaders import Loader
from botocore.session import Session

from ..errors import BucketMissing, ObjectExists, ObjectNotFound, StorageUnavailable
from ..settings import Settings
from .guard import StoreGuard

CONFLICT_ATTEMPTS = 5
"""How often a create answered ``409 ConditionalRequestConflict`` is sent again."""

RATE_LIMITED_SECONDS = 1.0
"""R2 takes one write a second per key and answers ``429`` beyond it: the wait before retrying.

https://developers.cloudflare.com/r2/platform/limits/
"""

_MISSING = ("NoSuchKey", "404", "NotFound")

T = TypeVar("T")


def client_config(settings: Settings) -> Config:
    """botocore configuration that works on AWS S3, R2 and other S3-compatible stores."""
    return Config(
        # Since boto3 1.36 the SDK adds CRC32 checksums (aws-chunked trailers) to every
        # upload and validates them on download by default; R2 and several S3-compatible
        # stores reject or mishandle those. Only send checksums when an operation requires
        # one; `create` sends its own SHA-256 instead, which every store checks.
        # https://developers.cloudflare.com/r2/examples/aws/boto3/
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        # A store that is down must turn into a 503 quickly, not a hung worker:
        # worst case per request is max_attempts x (connect + read) plus botocore's
        # jittered backoff (docs/storage.md, "Timeouts and retries").
        connect_timeout=settings.object_connect_timeout,
        read_timeout=settings.object_read_timeout,
        retries={"mode": "standard", "total_max_attempts": settings.object_max_attempts},
    )


class _S3Loader(Loader):  # type: ignore[misc]
    """botocore's data loader, spared the survey of every service botocore ships.

    Before it loads a model, botocore lists all of its services to check the name asked for:
    thousands of ``stat`` calls over its data directory on every cold start (about 20 ms of
    CPU, more on a cold disk), for the one service this driver ever names.
    """

    def list_available_services(self, type_name: str) -> list[str]:
        """The services this loader is asked for: S3 only."""
        return ["s3"]


@functools.cache
def _session() -> Session:
    """One botocore session per process, so every client reuses its parsed models.

    botocore, not boto3: the driver needs a client, not boto3's resource layer, whose import
    (s3transfer, multiprocessing) and S3 client hooks cost a cold start about 60 ms of CPU.
    """
    session = Session()
    session.register_component("data_loader", _S3Loader())
    return session


def make_client(settings: Settings, target: str) -> Any:
    """A botocore S3 client for ``target`` (``s3`` or ``r2``); credentials from the AWS chain."""
    options: dict[str, Any] = {"config": client_config(settings)}
    if settings.object_endpoint:
        options["endpoint_url"] = settings.object_endpoint
    if target == "r2":
        # R2 has one region, "auto"; SigV4 must be signed for it.
        options["region_name"] = "auto"
    client = _session().create_client("s3", **options)
    # botocore sends ``Expect: 100-continue`` with every PutObject and then waits up to 1 s
    # for a ``100 Continue`` that R2 never sends: a second lost on each create. S3 sends it,
    # but for our bodies it only costs a round trip (benchmarks/expect_continue.py).
    client.meta.events.unregister("before-call.s3", add_expect_header)
    return client


def _status(exc: ClientError) -> tuple[int, str]:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return status, str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable(exc: Exception) -> StorageUnavailable:
    if isinstance(exc, ClientError):
        status, code = _status(exc)
        reason = f"object store answered {status} {code}"
        if code == "AccessDenied":
            reason += " (check the credentials' permissions, docs/storage.md)"
        if code == "NoSuchBucket":
            return BucketMissing(reason)
        return StorageUnavailable(reason)
    return StorageUnavailable(f"object store unreachable: {exc}")


class S3Storage:
    """Objects at exactly ``<key>`` in one bucket of S3 or of an S3-compatible store (R2).

    A create is one ``PutObject`` with ``If-None-Match: *``: the bucket refuses it with 412 if
    the key exists, so two servers on two machines can never both create the same key. A
    concurrent conditional write may be answered ``409 ConditionalRequestConflict`` (S3) or
    ``429`` (R2's one write a second per key); that create is sent again, as AWS and
    Cloudflare advise. Every request is bounded by the guard's deadline and cool-down.
    """

    def __init__(self, client: Any, bucket: str, guard: StoreGuard) -> None:
        self.client = client
        self.bucket = bucket
        self.guard = guard

    def renew(self) -> None:
        """Close the pooled connections (the client opens new ones) and renew the guard."""
        self.client.close()
        self.guard.renew()

    def create(self, key: str, data: bytes) -> None:
        """Put ``data`` at ``key`` unless the key exists (then :class:`ObjectExists`)."""
        digest = hashlib.sha256(data).digest()
        until = self.guard.deadline()

        def put() -> None:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                IfNoneMatch="*",
                ChecksumSHA256=base64.b64encode(digest).decode(),
                ContentType="application/json",
                Metadata={"sha256": digest.hex()},
            )

        conflicts = 0
        while True:
            try:
                self.guard.call(until, _translated(put))
                return
            except _Refused as refused:
                status, code = refused.status, refused.code
                if status == 412 or code == "PreconditionFailed":
                    raise ObjectExists(key) from None
                if status == 429:
                    # Another write on this key within the second; retried until the deadline.
                    delay = RATE_LIMITED_SECONDS + random.uniform(0, 0.5)  # noqa: S311 (jitter)
                elif status != 409 and code != "ConditionalRequestConflict":
                    raise refused.unavailable from None
                elif conflicts < CONFLICT_ATTEMPTS - 1:
                    # Another conditional write on this key is in flight; its outcome decides.
                    conflicts += 1
                    delay = random.uniform(0, 0.05 * 2**conflicts)  # noqa: S311 (jitter)
                else:
                    raise StorageUnavailable(
                        f"{key}: conditional write conflicted {CONFLICT_ATTEMPTS} times"
                    ) from None
                if time.monotonic() + delay >= until:
                    raise StorageUnavailable(
                        f"{key}: object store answered {status} {code} until the deadline"
                    ) from None
                time.sleep(delay)

    def read(self, key: str) -> bytes:
        """The object's bytes, or :class:`ObjectNotFound`."""

        def get() -> bytes:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            data: bytes = response["Body"].read()
            return data

        try:
            return self.guard.call(self.guard.deadline(), _translated(get))
        except _Refused as refused:
            if refused.code in _MISSING:
                raise ObjectNotFound(key) from None
            raise refused.unavailable from None

    def probe(self, prefix: str) -> None:
        """Check that the bucket exists and answers: one ``ListObjectsV2`` of at most one key.

        Listing is a permission the server needs anyway (docs/storage.md); ``HeadBucket``
        would need the same one and say less.
        """
        self._list_page(prefix, "", 1)

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """Keys under ``prefix`` after ``start_after``, one ``ListObjectsV2`` per 1000 keys."""
        after = start_after
        while True:
            page = self._list_page(prefix, after, 1000)
            keys = [item["Key"] for item in page.get("Contents", ())]
            yield from keys
            # Some stores answer an empty page marked truncated: it says nothing to go on.
            if not page.get("IsTruncated") or not keys:
                return
            after = keys[-1]

    def _list_page(self, prefix: str, after: str, most: int) -> dict[str, Any]:
        def page() -> dict[str, Any]:
            answer: dict[str, Any] = self.client.list_objects_v2(
                Bucket=self.bucket, Prefix=prefix, StartAfter=after, MaxKeys=most
            )
            return answer

        try:
            return self.guard.call(self.guard.deadline(), _translated(page))
        except _Refused as refused:
            raise refused.unavailable from None


class _Refused(Exception):
    """The store answered with an error status; the caller decides what it means."""

    def __init__(self, exc: ClientError) -> None:
        super().__init__(str(exc))
        self.status, self.code = _status(exc)
        self.unavailable = _unavailable(exc)


def _translated(operation: Callable[[], T]) -> Callable[[], T]:
    """``operation`` raising :class:`StorageUnavailable` when the store is failing.

    Any other error answer (404, 409, 412, 429) is :class:`_Refused`: it proves the store
    answers, so the guard does not count it towards the cool-down.
    """

    def run() -> T:
        try:
            return operation()
        except ClientError as exc:
            status, _ = _status(exc)
            if status >= 500 or status in (0, 403):
                raise _unavailable(exc) from exc
            raise _Refused(exc) from None
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    return run


def open_object_storage(settings: Settings, target: str) -> S3Storage:
    """The ``s3`` or ``r2`` driver as the settings describe it."""
    guard = StoreGuard(settings.object_deadline_seconds, settings.object_cooldown_seconds)
    return S3Storage(make_client(settings, target), settings.object_bucket, guard)
