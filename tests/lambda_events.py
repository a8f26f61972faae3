"""Lambda events as AWS sends them, built by keyword-only builders from the documented shapes.

Every builder takes the request as the client sent it: ``path`` still percent-encoded,
``raw_query`` the query string as sent,
``headers`` as (name, value) pairs, repeats allowed. None adds a ``Content-Length`` header: the
documented sample events carry none. The body is base64-encoded, as the platforms do, when it
is binary: not UTF-8, or sent with a ``Content-Encoding`` such as gzip.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

ACCOUNT = "123456789012"
SOURCE_IP = "203.0.113.7"
TIME = "28/Nov/2026:13:00:00 +0000"
EPOCH_MS = 1795870800000


def encode_body(body: bytes, headers: list[tuple[str, str]]) -> tuple[str | None, bool]:
    """The event's ``body`` and ``isBase64Encoded``, the way the platforms choose them."""
    if not body:
        return None, False
    if any(name.lower() == "content-encoding" for name, _ in headers):
        return base64.b64encode(body).decode(), True
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def _last(pairs: list[tuple[str, str]]) -> dict[str, str] | None:
    return dict(pairs) or None


def _lists(pairs: list[tuple[str, str]]) -> dict[str, list[str]] | None:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out or None


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    lists = _lists(pairs) or {}
    return {k: ",".join(v) for k, v in lists.items()}


def rest_v1(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    base_path: str = "",
    stage: str = "prod",
) -> dict[str, Any]:
    """API Gateway REST API, Lambda proxy integration (payload 1.0).

    https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format
    ``path`` keeps the client's percent-encoding; behind a custom domain it starts with the
    base path mapping (``base_path``), which ``resourcePath`` does not.
    """
    data, is_base64 = encode_body(body, headers)
    query = _pairs(raw_query)
    full = base_path + path
    return {
        "resource": "/{proxy+}",
        "path": full,
        "httpMethod": method,
        "headers": _last(headers),
        "multiValueHeaders": _lists(headers),
        "queryStringParameters": _last(query),
        "multiValueQueryStringParameters": _lists(query),
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "1234567890",
            "domainName": "lineage.example.com",
            "extendedRequestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "httpMethod": method,
            "identity": {"sourceIp": SOURCE_IP, "userAgent": "ci"},
            "path": full,
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e812345678",
            "requestTime": TIME,
            "requestTimeEpoch": EPOCH_MS,
            "resourceId": "123456",
            "resourcePath": "/{proxy+}",
            "stage": stage,
        },
        "body": data,
        "isBase64Encoded": is_base64,
    }


def http_v1(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> dict[str, Any]:
    """API Gateway HTTP API, payload format 1.0.

    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
    HTTP APIs hand over the path percent-decoded.
    """
    data, is_base64 = encode_body(body, headers)
    query = _pairs(raw_query)
    decoded = unquote(path)
    return {
        "version": "1.0",
        "resource": "$default",
        "path": decoded,
        "httpMethod": method,
        "headers": _last(headers),
        "multiValueHeaders": _lists(headers),
        "queryStringParameters": _last(query),
        "multiValueQueryStringParameters": _lists(query),
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "extendedRequestId": "request-id",
            "httpMethod": method,
            "identity": {"sourceIp": SOURCE_IP, "userAgent": "ci"},
            "path": decoded,
            "protocol": "HTTP/1.1",
            "requestId": "id=",
            "requestTime": TIME,
            "requestTimeEpoch": EPOCH_MS,
            "resourceId": "$default",
            "resourcePath": "$default",
            "stage": "$default",
        },
        "body": data,
        "isBase64Encoded": is_base64,
    }


def http_v2(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    stage: str = "$default",
) -> dict[str, Any]:
    """API Gateway HTTP API, payload format 2.0.

    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
    Header names are lower-cased and repeats joined with commas; ``rawPath`` is percent-decoded
    and, on a named stage, starts with ``/<stage>``. Cookies travel apart, in ``cookies``.
    """
    data, is_base64 = encode_body(body, headers)
    decoded = unquote(path)
    if stage != "$default":
        decoded = f"/{stage}{decoded}"
    cookies = [v for k, v in headers if k.lower() == "cookie"]
    query = _joined(_pairs(raw_query))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": decoded,
        "rawQueryString": raw_query,
        "headers": _joined([(k.lower(), v) for k, v in headers if k.lower() != "cookie"]),
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {
                "method": method,
                "path": decoded,
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": "ci",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": stage,
            "time": TIME,
            "timeEpoch": EPOCH_MS,
        },
        "isBase64Encoded": is_base64,
    }
    if query:
        event["queryStringParameters"] = query
    if cookies:
        event["cookies"] = cookies
    if data is not None:
        event["body"] = data
    return event


def function_url(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> dict[str, Any]:
    """A Lambda function URL request (the payload 2.0 shape).

    https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
    Unlike HTTP APIs, a function URL keeps the client's percent-encoding in ``rawPath``.
    """
    event = http_v2(method=method, path=path, raw_query=raw_query, headers=headers, body=body)
    event["rawPath"] = path
    context = event["requestContext"]
    context["http"]["path"] = path
    context["domainName"] = "abcdefg.lambda-url.us-east-1.on.aws"
    context["domainPrefix"] = "abcdefg"
    return event


def alb(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    multi_value: bool,
) -> dict[str, Any]:
    """An Application Load Balancer request to a Lambda target.

    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html#receive-event-from-load-balancer
    Query values arrive as sent (the load balancer does not decode them); with multi-value
    headers enabled on the target group, headers and query come as lists in ``multiValue*``.
    """
    data, is_base64 = encode_body(body, headers)
    lowered = [(k.lower(), v) for k, v in headers]
    pairs = [
        (name, value) for name, _, value in (p.partition("=") for p in raw_query.split("&") if p)
    ]
    event: dict[str, Any] = {
        "requestContext": {
            "elb": {
                "targetGroupArn": (
                    f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/lineage/0123"
                )
            }
        },
        "httpMethod": method,
        "path": path,
        "body": data or "",
        "isBase64Encoded": is_base64,
    }
    if multi_value:
        event["multiValueQueryStringParameters"] = _lists(pairs) or {}
        event["multiValueHeaders"] = _lists(lowered) or {}
    else:
        event["queryStringParameters"] = _last(pairs) or {}
        event["headers"] = _last(lowered) or {}
    return event


def vpc_lattice(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    version: int,
) -> dict[str, Any]:
    """A VPC Lattice request to a Lambda target, event structure version 1.0 or 2.0.

    https://docs.aws.amazon.com/vpc-lattice/latest/ug/lambda-functions.html#receive-event-from-service
    Version 1.0 is snake_case with single-valued headers; 2.0 has list values and a
    ``version`` and ``requestContext``, the keys by which an HTTP API event is told.
    """
    data, is_base64 = encode_body(body, headers)
    lowered = [(k.lower(), v) for k, v in headers]
    if version == 1:
        return {
            "raw_path": f"{path}?{raw_query}" if raw_query else path,
            "method": method,
            "headers": _joined(lowered),
            "query_string_parameters": _joined(_pairs(raw_query)),
            "body": data or "",
            "is_base64_encoded": is_base64,
        }
    region = "us-east-1"
    return {
        "version": "2.0",
        "path": path,
        "method": method,
        "headers": _lists(lowered) or {},
        "queryStringParameters": _lists(_pairs(raw_query)) or {},
        "body": data or "",
        "isBase64Encoded": is_base64,
        "requestContext": {
            "serviceNetworkArn": f"arn:aws:vpc-lattice:{region}:{ACCOUNT}:servicenetwork/sn-0123",
            "serviceArn": f"arn:aws:vpc-lattice:{region}:{ACCOUNT}:service/svc-0123",
            "targetGroupArn": f"arn:aws:vpc-lattice:{region}:{ACCOUNT}:targetgroup/tg-0123",
            "identity": {"sourceVpcArn": f"arn:aws:ec2:{region}:{ACCOUNT}:vpc/vpc-0123"},
            "region": region,
            "timeEpoch": str(EPOCH_MS * 1000),
        },
    }


def _pairs(raw_query: str) -> list[tuple[str, str]]:
    return parse_qsl(raw_query, keep_blank_values=True)


@dataclass(frozen=True)
class Context:
    """The parts of the Lambda context object a handler may read.

    https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
    """

    aws_request_id: str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
    function_name: str = "stricture-server"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:stricture-server"
    memory_limit_in_mb: int = 512
    log_group_name: str = "/aws/lambda/stricture-server"
    log_stream_name: str = "2026/11/28/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        """Time left before the invocation times out."""
        return 30_000
