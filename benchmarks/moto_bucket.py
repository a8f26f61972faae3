"""A fresh bucket on moto's S3 server over real HTTP, for the benchmarks that use the s3 driver."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""moto accepts any credentials; botocore needs some to sign with. Never real ones."""


@contextmanager
def moto_bucket(prefix: str) -> Iterator[tuple[str, str]]:
    """``(endpoint, bucket)``: moto's server on loopback and a new bucket on it, until exit."""
    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.update(FAKE_AWS)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request log lines
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        bucket = f"{prefix}-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        yield endpoint, bucket
    finally:
        server.stop()
