"""The ``s3`` and ``r2`` drivers: one object per key in a bucket, created with ``If-None-Match``."""

from __future__ import annotations

import base64
import hashlib
import random
import time
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import BucketMissing, ObjectExists, ObjectNotFound, StorageUnavailable
from ..settings import Settings

CONFLICT_ATTEMPTS = 5
"""How often a create answered ``409 ConditionalRequestConflict`` is sent again."""

_MISSING = ("NoSuchKey", "404", "NotFound")


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


def make_client(settings: Settings, target: str) -> Any:
    """A boto3 S3 client for ``target`` (``s3`` or ``r2``); credentials from the AWS chain."""
    options: dict[str, Any] = {"config": client_config(settings)}
    if settings.object_endpoint:
        options["endpoint_url"] = settings.object_endpoint
    if target == "r2":
        # R2 has one region, "auto"; SigV4 must be signed for it.
        options["region_name"] = "auto"
    return boto3.session.Session().client("s3", **options)


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
    concurrent conditional write may be answered ``409 ConditionalRequestConflict``; that
    create is sent again, as AWS advises.
    """

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def create(self, key: str, data: bytes) -> None:
        """Put ``data`` at ``key`` unless the key exists (then :class:`ObjectExists`)."""
        digest = hashlib.sha256(data).digest()
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=data,
                    IfNoneMatch="*",
                    ChecksumSHA256=base64.b64encode(digest).decode(),
                    ContentType="application/json",
                    Metadata={"sha256": digest.hex()},
                )
                return
            except ClientError as exc:
                status, code = _status(exc)
                if status == 412 or code == "PreconditionFailed":
                    raise ObjectExists(key) from None
                if status != 409 and code != "ConditionalRequestConflict":
                    raise _unavailable(exc) from exc
                # Another conditional write on this key is in flight; its outcome decides.
                time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 (jitter)
            except BotoCoreError as exc:
                raise _unavailable(exc) from exc
        raise StorageUnavailable(f"{key}: conditional write conflicted {CONFLICT_ATTEMPTS} times")

    def read(self, key: str) -> bytes:
        """The object's bytes, or :class:`ObjectNotFound`."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            data: bytes = response["Body"].read()
        except ClientError as exc:
            if _status(exc)[1] in _MISSING:
                raise ObjectNotFound(key) from None
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        return data

    def probe(self, prefix: str) -> None:
        """Check that the bucket exists and answers: one ``ListObjectsV2`` of at most one key.

        Listing is a permission the server needs anyway (docs/storage.md); ``HeadBucket``
        would need the same one and say less.
        """
        try:
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """Keys under ``prefix`` after ``start_after``, one ``ListObjectsV2`` per 1000 keys."""
        after = start_after
        while True:
            try:
                page = self.client.list_objects_v2(
                    Bucket=self.bucket, Prefix=prefix, StartAfter=after, MaxKeys=1000
                )
            except (ClientError, BotoCoreError) as exc:
                raise _unavailable(exc) from exc
            keys = [item["Key"] for item in page.get("Contents", ())]
            yield from keys
            if not page.get("IsTruncated") or not keys:
                return
            after = keys[-1]


def open_object_storage(settings: Settings, target: str) -> S3Storage:
    """The ``s3`` or ``r2`` driver as the settings describe it."""
    return S3Storage(make_client(settings, target), settings.object_bucket)
