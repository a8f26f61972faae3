"""The core's failure answers: a broken store is a 503 or a 500, never a traceback."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from werkzeug import Request
from werkzeug.test import Client, EnvironBuilder

from stricture_server import Settings
from stricture_server.app import App
from stricture_server.auth import NoAuth
from stricture_server.ingest.validation import EnvelopeValidator
from stricture_server.runstore.runs import RunStore
from stricture_server.storage.fs import FileStorage

from . import factory

JSON = {"Content-Type": "application/json"}


def app_on(storage: object) -> Client:
    validator = EnvelopeValidator(strict=True, max_errors=10)
    return Client(App(Settings(), RunStore(storage, "p"), NoAuth(), validator))  # type: ignore[arg-type]


def test_unwritable_store_is_503_with_retry_after(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    client = app_on(FileStorage(blocker))
    response = client.post("/v1/artifacts", data=orjson.dumps(factory.envelope()), headers=JSON)
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.json == {"error": "storage is unavailable; retry later"}


def test_a_storage_outage_is_logged_as_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    client = app_on(FileStorage(blocker))
    with caplog.at_level(logging.INFO, logger="stricture_server.request"):
        assert client.get("/healthz").status_code == 200
        client.post("/v1/artifacts", data=orjson.dumps(factory.envelope()), headers=JSON)
    levels = [(r.fields["status"], r.levelno) for r in caplog.records]  # type: ignore[attr-defined]
    assert levels == [(200, logging.INFO), (503, logging.WARNING)]


class Broken:
    """A store with a bug: every call raises something no one planned for."""

    def create(self, key: str, data: bytes) -> None:
        raise RuntimeError("boom")

    def read(self, key: str) -> bytes:
        raise RuntimeError("boom")

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        raise RuntimeError("boom")


def test_a_bug_is_a_plain_500_and_logged_with_the_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = app_on(Broken())
    with caplog.at_level(logging.ERROR, logger="stricture_server.request"):
        response = client.get("/v1/artifacts/a/b/c/d", headers={"X-Request-Id": "req-500"})
    assert response.status_code == 500
    assert response.json == {"error": "internal error"}
    assert b"boom" not in response.data
    failure = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert failure.exc_info is not None
    assert failure.fields == {"request_id": "req-500"}  # type: ignore[attr-defined]


def test_the_read_api_is_imported_on_first_read_only(tmp_path: Path) -> None:
    script = (
        "import sys, orjson\n"
        "from werkzeug.test import Client\n"
        "from stricture_server import Settings, create_app\n"
        "from tests import factory\n"
        "app = create_app(Settings.from_env({'STRICTURE_SERVER_LOG_LEVEL': 'error',"
        f" 'STRICTURE_SERVER_DATA_DIR': {str(tmp_path)!r}}}))\n"
        "client = Client(app)\n"
        "document = factory.envelope(run_id='r')\n"
        "assert client.post('/v1/artifacts', data=orjson.dumps(document)).status_code == 202\n"
        "print('stricture_server.reads.query' in sys.modules)\n"
        "path = f\"/v1/artifacts/{document['organization']}/checkout/api/latest\"\n"
        "assert client.get(path).status_code == 200\n"
        "print('stricture_server.reads.query' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True, cwd=root)
    assert done.stdout.split() == [b"False", b"True"]


@pytest.mark.parametrize("request_id", factory.HOSTILE_REQUEST_IDS)
def test_handle_never_raises_on_a_hostile_request_id(tmp_path: Path, request_id: str) -> None:
    app = App(
        Settings(),
        RunStore(FileStorage(tmp_path), "p"),
        NoAuth(),
        EnvelopeValidator(strict=True, max_errors=10),
    )
    for path, status in (("/healthz", 200), ("/v1/artifacts/a/b/c/d", 404)):
        # Straight into the environ: werkzeug's request builder refuses a newline itself.
        environ = EnvironBuilder(path).get_environ()
        environ["HTTP_X_REQUEST_ID"] = request_id
        response = app.handle(Request(environ))
        assert response.status_code == status
        given = response.headers["X-Request-Id"]
        assert given != request_id
        assert given.isascii()
        assert given.isprintable()
