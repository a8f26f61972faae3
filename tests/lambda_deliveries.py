"""Lambda deliveries: one per event shape through the handler, and one through the real runtime.

Each builds the event from the request (see :mod:`tests.lambda_events`), refuses what Lambda or
the load balancer would refuse before the function runs, and reads the answer back as the front
(API Gateway, function URL, ALB) turns it into HTTP.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson
from werkzeug.datastructures import Headers

from . import lambda_events
from .deliveries import Reply, stop
from .entries import ADAPTERS, MB, check_body, load_entry
from .lambda_runtime_api import InvocationFailed, RuntimeApi
from .process_log import process_log

LAMBDA_EVENT_LIMIT = 6 * MB
"""Synchronous invocation payload, request and response each.
https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"""
LAMBDA_BODY_LIMIT = 6 * MB - 64 * 1024
"""The body that still fits a 6 MB event once the event's own fields are counted."""
ALB_LIMIT = 1 * MB
"""Request body and response JSON of a Lambda target.
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html"""

EventBuilder = Callable[..., dict[str, Any]]


def reply_from_lambda(result: dict[str, Any]) -> Reply:
    """The HTTP answer API Gateway, a function URL or ALB makes of a handler's result."""
    headers = Headers()
    multi: dict[str, list[str]] = result.get("multiValueHeaders") or {}
    for name, values in multi.items():
        for value in values:
            headers.add(name, value)
    for name, value in (result.get("headers") or {}).items():
        if name.lower() not in {k.lower() for k in multi}:
            headers.add(name, value)
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", cookie)
    text: str = result.get("body") or ""
    body = base64.b64decode(text) if result.get("isBase64Encoded") else text.encode()
    return Reply(int(result["statusCode"]), headers, body)


class LambdaDelivery:
    """One Lambda event shape, invoked by ``invoke`` (the handler itself, or a runtime)."""

    def __init__(
        self,
        name: str,
        build: EventBuilder,
        invoke: Callable[[dict[str, Any]], dict[str, Any]],
        limit: int,
    ) -> None:
        self.name = name
        self.build = build
        self.invoke = invoke
        self.max_body_bytes: int | None = limit

    def send(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> Reply:
        """Build the event, check the platform's limits, invoke."""
        check_body(self.limit, body)
        route, _, raw_query = path.partition("?")
        event = self.build(
            method=method, path=route, raw_query=raw_query, headers=list(headers.items()), body=body
        )
        check_body(LAMBDA_EVENT_LIMIT, orjson.dumps(event))
        result = self.invoke(event)
        check_body(min(self.limit, LAMBDA_EVENT_LIMIT), orjson.dumps(result))
        return reply_from_lambda(result)

    @property
    def limit(self) -> int:
        """The declared body limit."""
        assert self.max_body_bytes is not None
        return self.max_body_bytes


def lambda_handler(env: Mapping[str, str], name: str) -> Callable[[dict[str, Any]], Any]:
    """The handler of ``adapters/aws_lambda/handler.py``, called as the runtime calls it."""
    module = load_entry("aws_lambda/handler.py", env, f"lambda_entry_{name}")
    handler = module.handler
    context = lambda_events.Context()
    return lambda event: handler(event, context)


@contextmanager
def lambda_runtime(env: Mapping[str, str]) -> Iterator[Callable[[dict[str, Any]], Any]]:
    """The real runtime client (``awslambdaric``) running ``handler.handler`` against a local
    Runtime API; yields a function that invokes it."""
    with RuntimeApi() as api, process_log("awslambdaric") as output:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("STRICTURE_SERVER_")}
        full_env.update(env)
        full_env.update(
            AWS_LAMBDA_RUNTIME_API=api.address,
            AWS_LAMBDA_FUNCTION_NAME="stricture-server",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_REGION="us-east-1",
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", "handler.handler"],
            cwd=ADAPTERS / "aws_lambda",
            env=full_env,
            stdout=output.file,
            stderr=subprocess.STDOUT,
        )

        def invoke(event: dict[str, Any]) -> Any:
            try:
                return api.invoke(event)
            except InvocationFailed as exc:
                raise InvocationFailed(f"{exc}\n{output.report()}") from None

        try:
            yield invoke
        finally:
            # Where SIGTERM has a Python handler (coverage's, with sigterm = true), it runs only
            # once the runtime's native wait for the next invocation returns: end that wait too,
            # or the process outlives the test run and writes its coverage data during combine.
            process.terminate()
            api.closing.set()
            stop(process)
