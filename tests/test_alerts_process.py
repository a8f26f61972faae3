"""Alerts in process mode: real gunicorn workers, a real receiver, crashes and outages."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stricture_server.alerts.outbox import AlertOutbox, History
from stricture_server.settings import Settings
from stricture_server.storage import open_storage

from . import factory
from .alerting import (
    BREAKING,
    Receiver,
    Send,
    alert_env,
    consumers,
    new_secret,
    orders_run,
    org_config,
)
from .deliveries import HANG_SECONDS, Reply, free_port, http_send, kill_hard, server_process

JSON = {"Content-Type": "application/json"}


class Setup:
    """An org whose alerts go to a receiver on ``port``, the settings of its server."""

    def __init__(self, tmp_path: Path, **extra: str) -> None:
        self.name = factory.unique("shop")
        self.secrets = [new_secret()]
        self.port = free_port()  # nothing listens there until a Receiver does
        url = f"http://127.0.0.1:{self.port}/hook"
        self.env = {
            **alert_env(tmp_path, org_config(self.name, url, self.secrets), self.secrets),
            **extra,
        }
        settings = Settings.from_env(self.env)
        self.outbox = AlertOutbox(open_storage(settings), settings.object_prefix)

    def histories(self) -> list[History]:
        return [self.outbox.history(self.name, i) for i in self.outbox.ids(self.name)]

    def wait(self, *, every: str) -> list[History]:
        """Wait until every alert's state is ``every``; the histories then."""
        deadline = time.monotonic() + HANG_SECONDS
        while True:
            found = self.histories()
            if found and all(h.state == every for h in found):
                return found
            assert time.monotonic() < deadline, f"alerts not {every}: {[h.state for h in found]}"
            time.sleep(0.1)


def _send(port: int) -> Send:
    return lambda m, p, h, b: http_send(port, m, p, h, b)


def test_concurrent_ingests_over_three_workers_while_the_receiver_is_down(
    tmp_path: Path,
) -> None:
    # Retries for about a minute, long enough for "down for a while"; the lease outlives any
    # send on a loaded machine (send timeout 30 s).
    setup = Setup(
        tmp_path,
        STRICTURE_SERVER_WORKERS="3",
        STRICTURE_SERVER_ALERT_RETRY_SECONDS=",".join(["0.2"] * 300),
        STRICTURE_SERVER_ALERT_SEND_TIMEOUT_SECONDS="30",
    )
    with server_process(setup.env) as (port, _):
        consumers(_send(port), setup.name)

        def ingest(n: int) -> Reply:
            return http_send(
                port, "POST", "/v1/artifacts", JSON, orders_run(setup.name, f"r{n}", [BREAKING])
            )

        with ThreadPoolExecutor(20) as pool:
            replies = list(pool.map(ingest, range(20)))
        assert [r.status for r in replies] == [202] * 20
        # Every alert is in the outbox once the ingests are answered, and is being retried.
        deadline = time.monotonic() + HANG_SECONDS
        while not all(h.attempts for h in setup.histories()):
            assert time.monotonic() < deadline, "the workers never tried the receiver"
            time.sleep(0.1)
        histories = setup.histories()
        assert len(histories) == 20
        assert all(h.state == "pending" for h in histories)
        with Receiver(setup.secrets, port=setup.port) as receiver:
            delivered = setup.wait(every="delivered")
            ids = {h.id for h in delivered}
            # Each alert reached the receiver: verified, once per webhook-id, never two
            # deliveries of one alert in flight at once.
            assert set(receiver.accepted) == ids
            assert receiver.counts == dict.fromkeys(ids, 1)
            assert receiver.overlaps == 0
            assert receiver.unverified == 0


def test_an_alert_acknowledged_before_a_kill_9_is_delivered_after_the_restart(
    tmp_path: Path,
) -> None:
    setup = Setup(tmp_path, STRICTURE_SERVER_ALERT_SEND_TIMEOUT_SECONDS="2")
    with server_process(setup.env) as (port, process):
        consumers(_send(port), setup.name)
        reply = http_send(
            port, "POST", "/v1/artifacts", JSON, orders_run(setup.name, "r1", [BREAKING])
        )
        assert reply.status == 202
        kill_hard(process)
    (history,) = setup.histories()
    assert history.state == "pending"
    with Receiver(setup.secrets, port=setup.port) as receiver:
        with server_process(setup.env):
            (delivered,) = setup.wait(every="delivered")
        assert receiver.accepted[delivered.id] >= 1
        assert receiver.unverified == 0
