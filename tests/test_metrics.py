"""Prometheus metrics and readiness: the real process under several workers, and in process."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from stricture_server import Settings, create_app
from stricture_server.errors import StorageUnavailable
from stricture_server.readiness import Readiness

from . import factory
from .deliveries import free_port, http_send, server_process
from .objectstore import fault_proxy, new_bucket, object_env

TOKEN = "metrics-ingest-token"
SCRAPE_TOKEN = "metrics-scrape-token"
JSON = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
SCRAPE = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    """One sample's value; 0 when it is absent."""
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.slow
def test_metrics_add_up_every_workers_requests(tmp_path: Path) -> None:
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path),
        "STRICTURE_SERVER_INGEST_TOKEN": TOKEN,
        "STRICTURE_SERVER_METRICS": "token",
        "STRICTURE_SERVER_METRICS_TOKEN": SCRAPE_TOKEN,
        "STRICTURE_SERVER_WORKERS": "3",
        "STRICTURE_SERVER_LOG_LEVEL": "warning",
    }
    runs = 24
    with server_process(env) as (port, _):
        # A new connection for each request: gunicorn's workers take them in turn.
        bodies = [orjson.dumps(factory.envelope()) for _ in range(runs)]
        for body in bodies:
            assert http_send(port, "POST", "/v1/artifacts", JSON, body).status == 202
        fixed = orjson.dumps({**orjson.loads(bodies[0]), "run_id": "fixed"})
        for _ in range(2):  # stored, then an identical replay
            assert http_send(port, "POST", "/v1/artifacts", JSON, fixed).status == 202
        refused = [b"{not json", orjson.dumps({**factory.envelope(), "commit_sha": "not-hex"})]
        for body in refused:
            assert http_send(port, "POST", "/v1/artifacts", JSON, body).status == 400
        assert http_send(port, "GET", "/no/such/path", {}).status == 404
        assert http_send(port, "GET", "/readyz", {}).status == 200

        assert http_send(port, "GET", "/metrics", {}).status == 401
        # The ingest token does not open the scrape: Prometheus holds a token of its own.
        assert http_send(port, "GET", "/metrics", JSON).status == 401
        scraped = http_send(port, "GET", "/metrics", SCRAPE)
    assert scraped.status == 200
    assert scraped.headers["Content-Type"].startswith("text/plain; version=")
    found = samples(scraped.body.decode())
    ingest = {"method": "POST", "route": "/v1/artifacts"}
    assert value(found, "stricture_http_requests_total", **ingest, status="202") == runs + 2
    assert value(found, "stricture_http_requests_total", **ingest, status="400") == 2
    assert (
        value(found, "stricture_http_requests_total", method="GET", route="unmatched", status="404")
        == 1
    )
    assert value(found, "stricture_http_request_duration_seconds_count", **ingest) == runs + 4
    assert value(found, "stricture_ingest_runs_total", outcome="stored") == runs + 1
    assert value(found, "stricture_ingest_runs_total", outcome="replay") == 1
    sent = sum(map(len, bodies)) + 2 * len(fixed) + sum(map(len, refused))
    assert value(found, "stricture_ingest_bytes_total") == sent
    assert value(found, "stricture_validation_failures_total", kind="json") == 1
    assert value(found, "stricture_validation_failures_total", kind="schema") == 1
    assert value(found, "stricture_validation_failures_total", kind="identity") == 0
    created = value(found, "stricture_storage_requests_total", driver="fs", operation="create")
    assert created >= runs + 1
    assert value(found, "stricture_storage_errors_total", driver="fs", operation="create") == 0
    assert (
        value(
            found,
            "stricture_storage_request_duration_seconds_count",
            driver="fs",
            operation="create",
        )
        == created
    )


def in_process(env: dict[str, str]) -> Client:
    """The app in this process, through werkzeug's client."""
    return Client(create_app(Settings.from_env(env)))


def test_metrics_are_404_when_off_and_open_when_public(tmp_path: Path) -> None:
    off = in_process({"STRICTURE_SERVER_DATA_DIR": str(tmp_path)})
    assert off.get("/metrics").status_code == 404
    public = in_process(
        {"STRICTURE_SERVER_DATA_DIR": str(tmp_path), "STRICTURE_SERVER_METRICS": "public"}
    )
    reply = public.get("/metrics")
    assert reply.status_code == 200
    assert "stricture_http_requests_total" in reply.get_data(as_text=True)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STRICTURE_SERVER_METRICS": "token"}, "needs STRICTURE_SERVER_METRICS_TOKEN"),
        ({"STRICTURE_SERVER_METRICS_TOKEN": "t"}, "would not be checked"),
        ({"STRICTURE_SERVER_METRICS": "yes"}, "expected one of off, public, token"),
        ({"STRICTURE_SERVER_METRICS_ADDR": "127.0.0.1:9100"}, "METRICS='off'"),
        (
            {"STRICTURE_SERVER_METRICS": "public", "STRICTURE_SERVER_METRICS_ADDR": ":0"},
            "needs a fixed port",
        ),
    ],
)
def test_metrics_settings_are_checked(env: dict[str, str], message: str) -> None:
    from stricture_server.settings import ConfigError

    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_mirror_backlog_shows_in_the_metrics(tmp_path: Path) -> None:
    with fault_proxy() as proxy:
        env = object_env(
            "mirror",
            new_bucket(),
            proxy.url,
            STRICTURE_SERVER_MIRROR_TARGET="s3",
            STRICTURE_SERVER_DATA_DIR=str(tmp_path),
            STRICTURE_SERVER_METRICS="public",
            STRICTURE_SERVER_LOG_LEVEL="error",
        )
        proxy.down()
        app = create_app(Settings.from_env(env))
        try:
            client = Client(app)
            reply = client.post("/v1/artifacts", json=factory.envelope())
            assert reply.status_code == 202
            found = samples(client.get("/metrics").get_data(as_text=True))
        finally:
            app.runs.storage.storage.stop_replication()  # type: ignore[attr-defined]
    # The record and its run-id claim wait for the store to come back.
    assert value(found, "stricture_replication_pending") >= 1
    assert value(found, "stricture_replication_oldest_pending_seconds") >= 0
    assert value(found, "stricture_replication_failed") == 0
    assert ("stricture_replication_pending", ()) in found


def test_readyz_follows_the_store_and_healthz_the_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # A file where the data directory should be, as a mount gone wrong leaves it.
    data.write_text("not a directory")
    client = in_process({"STRICTURE_SERVER_DATA_DIR": str(data)})
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.get_json() == {"error": "storage is unavailable; retry later"}
    assert client.get("/healthz").status_code == 200
    data.unlink()
    fresh = in_process({"STRICTURE_SERVER_DATA_DIR": str(data)})
    assert fresh.get("/readyz").get_json() == {"status": "ready"}


def test_readyz_on_an_object_store_lists_one_key(tmp_path: Path) -> None:
    with fault_proxy() as proxy:
        env = object_env("s3", new_bucket(), proxy.url, STRICTURE_SERVER_LOG_LEVEL="error")
        assert in_process(env).get("/readyz").status_code == 200
        method, path = proxy.requests[-1]
        assert method == "GET"
        assert "max-keys=1" in path
        proxy.mode = "error"
        assert in_process(env).get("/readyz").status_code == 503


def test_readiness_checks_the_store_at_most_once_per_ttl() -> None:
    now = [0.0]
    calls: list[float] = []
    failing = [False]

    def check() -> None:
        calls.append(now[0])
        if failing[0]:
            raise StorageUnavailable("down")

    def clock() -> float:
        return now[0]

    readiness = Readiness(check, ttl=2.0, clock=clock)
    readiness.require()
    failing[0] = True
    now[0] = 1.9
    readiness.require()  # the cached result stands
    now[0] = 2.0
    with pytest.raises(StorageUnavailable):
        readiness.require()
    failing[0] = False
    now[0] = 3.0
    with pytest.raises(StorageUnavailable):
        readiness.require()  # a failure is cached too: a failing store is not hammered
    now[0] = 4.0
    readiness.require()
    assert calls == [0.0, 2.0, 4.0]


@pytest.mark.slow
def test_metrics_addr_serves_metrics_alone_and_only_there(tmp_path: Path) -> None:
    metrics_port = free_port()
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path),
        "STRICTURE_SERVER_METRICS": "public",
        "STRICTURE_SERVER_METRICS_ADDR": f"127.0.0.1:{metrics_port}",
        "STRICTURE_SERVER_LOG_LEVEL": "warning",
    }
    with server_process(env) as (port, _):
        body = orjson.dumps(factory.envelope())
        json = {"Content-Type": "application/json"}
        assert http_send(port, "POST", "/v1/artifacts", json, body).status == 202
        assert http_send(port, "GET", "/metrics", {}).status == 404
        scraped = http_send(metrics_port, "GET", "/metrics", {})
        assert http_send(metrics_port, "POST", "/v1/artifacts", json, body).status == 404
        assert http_send(metrics_port, "GET", "/v1/openapi.json", {}).status == 404
        assert http_send(metrics_port, "GET", "/readyz", {}).status == 200
    assert scraped.status == 200
    found = samples(scraped.body.decode())
    ingest = {"method": "POST", "route": "/v1/artifacts"}
    assert value(found, "stricture_http_requests_total", **ingest, status="202") == 1
