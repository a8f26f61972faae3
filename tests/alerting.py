"""Helpers for the alert tests: a receiver that verifies like a real one, a config file, an org.

The receiver is a real HTTP server on loopback. It verifies every delivery with the
``standardwebhooks`` library, counts deliveries per ``webhook-id``, notices two deliveries of
one id in flight at once, and answers as told: ``ok``, ``500``, ``429`` (with Retry-After),
``410``, ``hang`` (until released) or ``close`` (the connection, without an answer).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook

from stricture_server.alerts.deliver import Deliverer
from stricture_server.alerts.outbox import AlertOutbox, History
from stricture_server.alerts.setup import deliverer
from stricture_server.settings import Settings
from stricture_server.storage import open_storage

from . import factory
from .deliveries import HANG_SECONDS, Reply, WsgiDelivery
from .test_lineage_impact import REGISTRY, change, diff

PROJECT = "platform"
Send = Callable[[str, str, Mapping[str, str], bytes], Reply]


def new_secret() -> str:
    """A fresh Standard Webhooks signing secret."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


class Receiver:
    """A webhook receiver on loopback; see the module docstring."""

    def __init__(self, secrets: list[str], port: int = 0) -> None:
        self.verifiers = [Webhook(s) for s in secrets]
        self.verified_by: Counter[int] = Counter()
        """Deliveries each secret (by its place in ``secrets``) verified."""
        self.answers: list[str] = []
        """Answers to give, in order; ``ok`` once they run out."""
        self.default = "ok"
        self.counts: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        """Deliveries answered 2xx, per webhook-id."""
        self.bodies: dict[str, Any] = {}
        self.unverified = 0
        self.in_flight: Counter[str] = Counter()
        self.overlaps = 0
        self.released = threading.Event()
        self.changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where to send."""
        return f"http://127.0.0.1:{self.port}/hook"

    def _next_answer(self) -> str:
        with self.changed:
            return self.answers.pop(0) if self.answers else self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                message_id = headers.get("webhook-id", "")
                receiver._enter(message_id, body, headers)
                try:
                    self._answer(receiver._next_answer(), message_id)
                finally:
                    receiver._leave(message_id)

            def _answer(self, answer: str, message_id: str) -> None:
                if answer == "hang":
                    receiver.released.wait(HANG_SECONDS)
                    answer = "500"
                if answer == "close":
                    self.close_connection = True
                    self.connection.close()
                    return
                status = 200 if answer == "ok" else int(answer)
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                if status == 200:
                    with receiver.changed:
                        receiver.accepted[message_id] += 1
                        receiver.changed.notify_all()

        return Handler

    def _enter(self, message_id: str, body: bytes, headers: dict[str, str]) -> None:
        verified = None
        by = []
        for n, verifier in enumerate(self.verifiers):
            try:
                verified = verifier.verify(body, headers)
            except Exception:
                continue
            by.append(n)
        with self.changed:
            self.verified_by.update(by)
            self.counts[message_id] += 1
            self.in_flight[message_id] += 1
            if self.in_flight[message_id] > 1:
                self.overlaps += 1
            if verified is None and self.verifiers:
                self.unverified += 1
            else:
                self.bodies[message_id] = verified if verified is not None else orjson.loads(body)
            self.changed.notify_all()

    def _leave(self, message_id: str) -> None:
        with self.changed:
            self.in_flight[message_id] -= 1

    def wait_for(self, done: Callable[[Receiver], bool]) -> None:
        """Block until ``done(self)``; fail after :data:`HANG_SECONDS`."""
        deadline = time.monotonic() + HANG_SECONDS
        with self.changed:
            while not done(self):
                left = deadline - time.monotonic()
                assert left > 0, f"receiver never saw it: {dict(self.counts)}"
                self.changed.wait(min(left, 0.5))

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()


def org_config(
    org: str, url: str, secrets: list[str], *, extra_rule: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An ``alerts`` section: one signed webhook ``hook`` and the default rule sending there.

    The secrets are read from ``ALERT_SECRET_<n>`` (see :func:`secret_env`).
    """
    rules: list[dict[str, Any]] = [{"name": "breaking", "destinations": ["hook"]}]
    if extra_rule:
        rules.append(extra_rule)
    return {
        "organizations": {
            org: {
                "destinations": {
                    "hook": {
                        "type": "webhook",
                        "url": url,
                        "secrets": [{"env": f"ALERT_SECRET_{n}"} for n in range(len(secrets))],
                    }
                },
                "rules": rules,
            }
        }
    }


def secret_env(secrets: list[str]) -> dict[str, str]:
    """The environment variables :func:`org_config` names."""
    return {f"ALERT_SECRET_{n}": s for n, s in enumerate(secrets)}


def write_config(path: Path, alerts: dict[str, Any]) -> dict[str, str]:
    """Write a configuration file with ``alerts``; the settings that name it."""
    path.write_bytes(orjson.dumps({"version": 1, "alerts": alerts}))
    return {
        "STRICTURE_SERVER_CONFIG_FILE": str(path),
        "STRICTURE_SERVER_ALERT_ALLOW_LOOPBACK": "true",
        # Fast retries: the tests wait on conditions, never on these delays.
        "STRICTURE_SERVER_ALERT_RETRY_SECONDS": "0.05,0.05,0.05,0.05,0.05,0.05",
        "STRICTURE_SERVER_ALERT_POLL_SECONDS": "0.1",
        "STRICTURE_SERVER_ALERT_SEND_TIMEOUT_SECONDS": "5",
    }


def consumers(send: Send, org: str) -> None:
    """Ingest the registry and every service of the shop org but ``orders``."""
    headers = {"Content-Type": "application/json"}
    reply = send("POST", f"/v1/registry/{org}", headers, orjson.dumps(REGISTRY))
    assert reply.status == 201, reply.body[:300]
    artifacts = factory.lineage_org(factory.SHOP_ORG)
    for name in sorted(set(artifacts) - {"orders"}):
        document = factory.envelope(
            organization=org, project=PROJECT, service=name, run_id="r1", artifact=artifacts[name]
        )
        reply = send("POST", "/v1/artifacts", headers, orjson.dumps(document))
        assert reply.status == 202, reply.body[:300]


def orders_run(org: str, run_id: str, changes: list[dict[str, Any]]) -> bytes:
    """The body of a run of ``orders`` with ``changes`` as its diff."""
    artifact = factory.lineage_org(factory.SHOP_ORG)["orders"]
    document = factory.envelope(
        organization=org,
        project=PROJECT,
        service="orders",
        run_id=run_id,
        artifact=artifact,
        diff=diff(*changes),
    )
    return orjson.dumps(document)


BREAKING = change("Orders:api")
"""A high change of a system other services read: downstream."""
SELF_ONLY = change("Orders:worker")
"""A high change of a system only its own service reads: self-only."""


URL = "https://hooks.example.com/stricture"


def rules_config(org: str, url: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """An ``alerts`` section: destinations ``a`` and ``b`` (one URL), and ``rules``."""
    hook = {"type": "webhook", "url": url, "secrets": [{"env": "ALERT_SECRET_0"}]}
    return {"organizations": {org: {"destinations": {"a": hook, "b": hook}, "rules": rules}}}


def alert_env(tmp_path: Path, alerts: dict[str, Any], secrets: list[str]) -> dict[str, str]:
    """The settings of an app with ``alerts``, its data under ``tmp_path``."""
    return {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path / "data"),
        "STRICTURE_SERVER_LOG_LEVEL": "warning",
        **write_config(tmp_path / "server.json", alerts),
        **secret_env(secrets),
    }


class Org:
    """An org with the shop's consumers ingested, its app in process, its outbox."""

    def __init__(
        self,
        tmp_path: Path,
        rules: list[dict[str, Any]] | None = None,
        public_url: str = "https://lineage.example.com/",
        url: str = URL,
        secrets: list[str] | None = None,
    ) -> None:
        self.name = factory.unique("shop")
        self.secrets = secrets or [new_secret()]
        config = (
            org_config(self.name, url, self.secrets)
            if rules is None
            else rules_config(self.name, url, rules)
        )
        config["public_url"] = public_url
        self.env = alert_env(tmp_path, config, self.secrets)
        self.delivery = WsgiDelivery(self.env)
        settings = Settings.from_env(self.env)
        self.outbox = AlertOutbox(open_storage(settings), settings.object_prefix)
        consumers(lambda *a: self.delivery.send(*a), self.name)

    def ingest(self, run_id: str, *changes: dict[str, Any]) -> None:
        """Ingest a run of ``orders`` with ``changes``."""
        headers = {"Content-Type": "application/json"}
        reply = self.delivery.send(
            "POST", "/v1/artifacts", headers, orders_run(self.name, run_id, list(changes))
        )
        assert reply.status == 202, reply.body[:300]

    def alerts(self) -> list[dict[str, Any]]:
        """The stored alerts, newest first."""
        return [self.outbox.history(self.name, i).alert for i in self.outbox.ids(self.name)]

    def histories(self) -> list[History]:
        """Every alert's history, newest first."""
        return [self.outbox.history(self.name, i) for i in self.outbox.ids(self.name)]

    def deliverer(self, **settings: str) -> Deliverer:
        """A deliverer of this org's store, with ``settings`` (``STRICTURE_SERVER_*``) on top."""
        env = {**self.env, **{f"STRICTURE_SERVER_{k}": v for k, v in settings.items()}}
        found = deliverer(Settings.from_env(env), self.outbox.storage, self.outbox.prefix)
        assert found is not None
        return found


def drain(deliverer: Deliverer, done: Callable[[], bool]) -> None:
    """Run delivery passes until ``done()``; fail after :data:`HANG_SECONDS`."""
    deadline = time.monotonic() + HANG_SECONDS
    while not done():
        assert time.monotonic() < deadline, "delivery never got there"
        deliverer.run_once()
        time.sleep(0.02)
