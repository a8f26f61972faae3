"""What a function's cold start loads: each platform entry, imported and answering one ingest.

Each case is a fresh interpreter that imports the entry as its platform does (the entry builds
the app with the ``s3`` driver, against the S3 emulator), answers one ``POST /v1/artifacts`` as
the platform hands it over, and reports ``sys.modules``.

A deny-list, not an allow-list: the modules a cold start loads are mostly the standard
library's, botocore's and mangum's internals, which change with every Python and library
release; an allow-list would fail on those updates and say nothing about the ingest path. The
deny-list names what the ingest path must never pay for and what has been, or could easily be,
pulled in by accident: werkzeug's development server and test client (werkzeug's package
``__init__`` imports both), boto3's resource layer and s3transfer, the configuration file's
parsers when no file is named, and the parts of the project the ingest path does not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from . import lambda_events
from .entries import ADAPTERS, in_fresh_interpreter
from .factory import envelope
from .objectstore import emulator, new_bucket, object_env

DENIED = (
    # werkzeug/__init__.py imports these for run_simple and Client; the app serves neither.
    "werkzeug.serving",
    "werkzeug.test",
    "http.server",
    "socketserver",
    # The s3 driver uses a botocore client: no resource layer, no transfer manager.
    "boto3",
    "s3transfer",
    "multiprocessing",
    # The configuration file's parsers, when no file is named; the reference validator, which
    # only lists the violations of an invalid body.
    "yaml",
    "jsonschema",
    "referencing",
    # Process mode, the commands, the read API, metrics and rendering: not the ingest path.
    "gunicorn",
    "stricture_server.serving",
    "stricture_server.commands",
    "stricture_server.push",
    "stricture_server.reads.query",
    "stricture_server.reads.query_params",
    "stricture_server.reads.cursor",
    "stricture_server.metrics.exposition",
    "prometheus_client",
    "graphviz",
    "tqdm",
    # Emulators and other platforms' runtimes.
    "moto",
    "flask",
    "functions_framework",
)

_LAMBDA = """
import sys
sys.path.insert(0, {folder!r})
import handler
answer = handler.handler(request, Context())
status = answer["statusCode"]
"""

_GCP = """
import io, sys
sys.path.insert(0, {folder!r})
import main
from werkzeug.wrappers import Request
environ = {{
    "REQUEST_METHOD": "POST", "PATH_INFO": "/v1/artifacts", "QUERY_STRING": "",
    "SERVER_NAME": "stricture.example", "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/1.1",
    "wsgi.url_scheme": "https", "wsgi.input": io.BytesIO(request),
    "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(request)),
}}
status = main.stricture(Request(environ)).status_code
"""

_AZURE = """
import sys
sys.path.insert(0, {folder!r})
import function_app
import azure.functions as func
(function,) = [f for f in function_app.app.get_functions() if f.get_function_name() == "stricture"]
answer = function.get_user_function()(func.HttpRequest(
    "POST", "https://stricture.azurewebsites.net/v1/artifacts",
    headers={{"content-type": "application/json"}}, body=request,
    route_params={{"route": "v1/artifacts"}},
))
status = answer.status_code
"""

_CHILD = """
import json, sys
class Context:
    aws_request_id = "cold-start"
    function_name = "stricture-server"
    memory_limit_in_mb = 1024
request = open({request!r}, "rb").read()
if {is_event!r}:
    request = json.loads(request)
{entry}
print(json.dumps({{"status": status, "modules": sorted(sys.modules)}}))
"""

ENTRIES = {
    "aws_lambda": (_LAMBDA, "aws_lambda"),
    "gcp_functions": (_GCP, "gcp_functions"),
    "azure_functions": (_AZURE, "azure_functions"),
}


def loaded_after_one_ingest(entry: str, tmp_path: Path) -> tuple[int, set[str]]:
    """The status of one ingest through ``entry`` in a fresh interpreter, and its modules."""
    template, folder = ENTRIES[entry]
    body = orjson.dumps(envelope())
    request: Any = body
    if entry == "aws_lambda":
        event = lambda_events.http_v2(
            method="POST",
            path="/v1/artifacts",
            raw_query="",
            headers=[("content-type", "application/json")],
            body=body,
        )
        request = orjson.dumps(event)
    path = tmp_path / "request"
    path.write_bytes(request)
    code = _CHILD.format(
        request=str(path),
        is_event=entry == "aws_lambda",
        entry=template.format(folder=str(ADAPTERS / folder)),
    )
    result = in_fresh_interpreter(code, object_env("s3", new_bucket(), emulator()))
    return int(result["status"]), set(result["modules"])


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_a_cold_start_loads_nothing_the_ingest_path_does_not_use(
    entry: str, tmp_path: Path
) -> None:
    status, modules = loaded_after_one_ingest(entry, tmp_path)
    assert status == 202
    assert "botocore.client" in modules  # the s3 driver did answer
    found = sorted(m for m in modules if any(m == d or m.startswith(d + ".") for d in DENIED))
    assert found == []


def test_the_lean_werkzeug_package_still_exports_its_names() -> None:
    code = (
        "import json, stricture_server.adapters, sys\n"
        "assert 'werkzeug.serving' not in sys.modules\n"
        "from werkzeug import Client, Request, Response, run_simple\n"
        "import werkzeug.serving, werkzeug.test\n"
        "assert run_simple is werkzeug.serving.run_simple and Client is werkzeug.test.Client\n"
        "import werkzeug\n"
        "try:\n"
        "    werkzeug.nothing\n"
        "except AttributeError as exc:\n"
        "    print(json.dumps(str(exc)))\n"
    )
    assert in_fresh_interpreter(code, {}) == "module 'werkzeug' has no attribute 'nothing'"


def test_importing_the_package_leaves_werkzeug_as_it_is() -> None:
    code = (
        "import json, sys\n"
        "from stricture_server import create_app, Settings\n"
        "import werkzeug\n"
        "print(json.dumps('werkzeug.serving' in sys.modules))\n"
    )
    # Outside a function entry (process mode, a program of the user's), werkzeug's own
    # __init__ runs: nothing of its package is changed behind the user's back.
    assert in_fresh_interpreter(code, {}) is True
