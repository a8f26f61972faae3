"""Delivering alerts to real receivers on loopback: signatures, retries, leases, dead letter."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from stricture_server.alerts.transport import SendFailed, Transport

from .alerting import BREAKING, PROJECT, Org, Receiver, drain, new_secret, write_config
from .deliveries import WsgiDelivery


def test_an_alert_is_delivered_signed_and_recorded(tmp_path: Path) -> None:
    secrets = [new_secret()]
    with Receiver(secrets) as receiver:
        org = Org(tmp_path, url=receiver.url, secrets=secrets)
        org.ingest("r1", BREAKING)
        (history,) = org.histories()
        deliverer = org.deliverer()
        drain(deliverer, lambda: org.histories()[0].state == "delivered")
        deliverer.run_once()  # a delivered alert is not sent again
        assert receiver.counts == {history.id: 1}
        assert receiver.unverified == 0
        assert receiver.bodies[history.id] == history.alert["payload"]
        (attempt,) = org.histories()[0].attempts
        assert (attempt["n"], attempt["status"], attempt["outcome"]) == (1, 200, "delivered")
        assert attempt["error"] is None
        assert attempt["duration_ms"] >= 0


def test_failures_are_retried_each_attempt_signed_afresh_until_delivered(tmp_path: Path) -> None:
    secrets = [new_secret()]
    with Receiver(secrets) as receiver:
        receiver.answers = ["500", "429", "close", "hang", "503"]
        org = Org(tmp_path, url=receiver.url, secrets=secrets)
        org.ingest("r1", BREAKING)
        deliverer = org.deliverer(ALERT_SEND_TIMEOUT_SECONDS="1")
        drain(deliverer, lambda: org.histories()[0].state == "delivered")
        history = org.histories()[0]
        found = [(a["status"], a["outcome"]) for a in history.attempts]
        assert found == [
            (500, "retry"),
            (429, "retry"),
            (None, "retry"),
            (None, "retry"),
            (503, "retry"),
            (200, "delivered"),
        ]
        errors = [a["error"] for a in history.attempts]
        assert errors[2] == "connection closed without an answer"
        assert errors[3] == "timed out"
        # Every attempt carried the same webhook-id and a valid signature.
        assert receiver.counts == {history.id: 6}
        assert receiver.unverified == 0


@pytest.mark.parametrize("status", ["410", "400", "301"])
def test_a_final_answer_makes_the_alert_dead_at_once(
    tmp_path: Path, status: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Receiver([]) as receiver:
        receiver.default = status
        org = Org(tmp_path, url=receiver.url)
        org.ingest("r1", BREAKING)
        with caplog.at_level(logging.INFO, logger="stricture_server.alerts"):
            drain(org.deliverer(), lambda: org.histories()[0].state == "dead")
        (attempt,) = org.histories()[0].attempts
        assert (attempt["status"], attempt["outcome"]) == (int(status), "dead")
        gone = [r for r in caplog.records if "410 Gone" in r.getMessage()]
        assert len(gone) == (1 if status == "410" else 0)


def test_retries_stop_at_the_end_of_the_schedule_and_the_alert_is_dead(tmp_path: Path) -> None:
    with Receiver([]) as receiver:
        receiver.default = "500"
        org = Org(tmp_path, url=receiver.url)
        org.ingest("r1", BREAKING)
        drain(
            org.deliverer(ALERT_RETRY_SECONDS="0.01,0.01"),
            lambda: org.histories()[0].state == "dead",
        )
        outcomes = [a["outcome"] for a in org.histories()[0].attempts]
        assert outcomes == ["retry", "retry", "dead"]


def test_the_delivery_total_caps_retries_even_with_a_long_schedule(tmp_path: Path) -> None:
    with Receiver([]) as receiver:
        receiver.answers = ["500"]
        org = Org(tmp_path, url=receiver.url)
        org.ingest("r1", BREAKING)
        deliverer = org.deliverer(ALERT_RETRY_SECONDS="3600", ALERT_DELIVERY_TOTAL_SECONDS="60")
        drain(deliverer, lambda: org.histories()[0].state == "dead")
        (attempt,) = org.histories()[0].attempts
        assert attempt["status"] == 500
        assert attempt["next_ms"] is None


def test_during_a_secret_rotation_both_secrets_sign(tmp_path: Path) -> None:
    new, old = new_secret(), new_secret()
    with Receiver([old, new]) as receiver:
        org = Org(tmp_path, url=receiver.url, secrets=[new, old])
        org.ingest("r1", BREAKING)
        drain(org.deliverer(), lambda: org.histories()[0].state == "delivered")
        # A receiver holding either secret verifies the same delivery.
        assert receiver.verified_by == {0: 1, 1: 1}


def test_deliverers_racing_on_one_outbox_send_each_alert_once(tmp_path: Path) -> None:
    with Receiver([]) as receiver:
        org = Org(tmp_path, url=receiver.url)
        for n in range(8):
            org.ingest(f"r{n}", BREAKING)
        ids = {h.id for h in org.histories()}
        deliverers = [org.deliverer() for _ in range(4)]
        for n, deliverer in enumerate(deliverers):
            deliverer.holder = f"racer-{n}"
        start = threading.Barrier(len(deliverers))

        def race(deliverer: object) -> None:
            start.wait()
            drain(deliverer, lambda: all(h.state == "delivered" for h in org.histories()))  # type: ignore[arg-type]

        threads = [threading.Thread(target=race, args=(d,)) for d in deliverers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert receiver.counts == dict.fromkeys(ids, 1)
        assert receiver.overlaps == 0


REFUSED = [
    ("10.1.2.3", "a private address"),
    ("192.168.0.10", "a private address"),
    ("172.16.5.4", "a private address"),
    ("fd00::1", "a private address"),
    ("127.0.0.1", "a loopback address"),
    ("::1", "a loopback address"),
    ("169.254.169.254", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("224.0.0.251", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("::ffff:127.0.0.1", "an IPv4-mapped address"),
    ("::ffff:93.184.216.34", "an IPv4-mapped address"),
    ("0.0.0.0", "a reserved address"),
    ("240.0.0.1", "a reserved address"),
    ("100.64.0.1", "a reserved address"),
]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_every_refused_address_kind_is_refused_before_connecting(address: str, kind: str) -> None:
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["93.184.216.34", address]  # one bad answer among good ones is enough

    transport = Transport(resolver=resolver)
    with pytest.raises(SendFailed, match=f"refused: the host resolves to {kind}"):
        transport.post("https://hooks.example.com/x", b"{}", {})
    assert asked == [("hooks.example.com", 443)]


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    with Receiver([]) as receiver:
        asked: list[str] = []

        def resolver(host: str, port: int) -> list[str]:
            asked.append(host)
            return ["127.0.0.1"]  # the only answer; a second lookup would be another call

        transport = Transport(allow_loopback=True, resolver=resolver)
        answer = transport.post(f"http://localhost:{receiver.port}/hook", b"{}", {})
        assert answer.status == 200
        assert asked == ["localhost"]
        # Without the test setting, loopback is refused, and so is plain http.
        with pytest.raises(SendFailed, match="must be https"):
            Transport(resolver=resolver).post(f"http://localhost:{receiver.port}/", b"{}", {})
        with pytest.raises(SendFailed, match="loopback"):
            Transport(resolver=resolver).post("https://localhost/", b"{}", {})


def _get(org: Org, path: str, status: int = 200) -> Any:
    reply = org.delivery.send("GET", path, {})
    assert reply.status == status, reply.body[:300]
    return reply.json()


def test_a_dead_alert_is_listed_then_redelivered_through_the_api(tmp_path: Path) -> None:
    with Receiver([]) as receiver:
        org = Org(tmp_path, url=receiver.url)
        deliverer = org.deliverer(ALERT_RETRY_SECONDS="0.01")
        org.ingest("r1", BREAKING)
        drain(deliverer, lambda: org.histories()[0].state == "delivered")
        # r2's alert fails twice (500, 500): dead.
        receiver.default = "500"
        org.ingest("r2", BREAKING)
        newest, oldest = (h.id for h in org.histories())
        drain(deliverer, lambda: org.histories()[0].state == "dead")
        receiver.default = "ok"
        listed = _get(org, f"/v1/alerts/{org.name}")
        states = {a["id"]: a["state"] for a in listed["alerts"]}
        assert [a["id"] for a in listed["alerts"]] == [newest, oldest]
        (dead,) = [i for i, s in states.items() if s == "dead"]
        only_dead = _get(org, f"/v1/alerts/{org.name}?state=dead")["alerts"]
        assert [(a["id"], [t["status"] for t in a["attempts"]]) for a in only_dead] == [
            (dead, [500, 500])
        ]
        assert _get(org, f"/v1/alerts/{org.name}?destination=other")["alerts"] == []
        first = _get(org, f"/v1/alerts/{org.name}?limit=1")
        assert [a["id"] for a in first["alerts"]] == [newest]
        second = _get(org, f"/v1/alerts/{org.name}?limit=1&cursor={first['next_cursor']}")
        assert [a["id"] for a in second["alerts"]] == [oldest]
        assert second["next_cursor"] is None

        path = f"/v1/alerts/{org.name}/{dead}/redeliver"
        reply = org.delivery.send("POST", path, {})
        assert reply.status == 202, reply.body
        assert reply.json()["state"] == "pending"
        assert _get(org, f"/v1/alerts/{org.name}?state=pending")["alerts"][0]["id"] == dead
        # A pending alert is not requeued again.
        assert org.delivery.send("POST", path, {}).status == 409
        # The audit trail holds the redelivery, and the refused second one as a conflict.
        trail = _get(org, f"/v1/audit/{org.name}?action=alert.redeliver")["events"]
        assert [(e["result"], e["status"], e["target"]) for e in trail] == [
            ("conflict", 409, {"organization": org.name, "alert_id": dead}),
            ("requeued", 202, {"organization": org.name, "alert_id": dead}),
        ]
        drain(deliverer, lambda: all(h.state == "delivered" for h in org.histories()))
        redelivered = org.outbox.history(org.name, dead)
        assert [a["outcome"] for a in redelivered.attempts] == ["retry", "dead", "delivered"]
        assert receiver.counts[dead] == 3


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/alerts/{org}?state=lost", 400),
        ("GET", "/v1/alerts/{org}?limit=0", 400),
        ("GET", "/v1/alerts/{org}?cursor=bm90LWEtY3Vyc29y", 400),
        ("GET", "/v1/alerts/{org}?destination=..%2F..", 400),
        ("GET", "/v1/alerts/{org}?color=red", 400),
        ("POST", "/v1/alerts/{org}/0000000000000-00000000000000000000/redeliver", 404),
        ("POST", "/v1/alerts/{org}/..%2F..%2Fetc/redeliver", 404),
        ("POST", "/v1/alerts/{org}/x/redeliver?now=1", 400),
    ],
)
def test_bad_alert_requests_are_clear_4xx(
    tmp_path: Path, method: str, path: str, status: int
) -> None:
    org = Org(tmp_path)
    reply = org.delivery.send(method, path.format(org=org.name), {})
    assert reply.status == status, reply.body
    assert "error" in reply.json()


def test_a_slack_destination_gets_a_readable_message(tmp_path: Path) -> None:
    with Receiver([]) as receiver:
        org = Org(tmp_path, url=receiver.url)
        slack = {"type": "slack", "url": {"env": "SLACK_URL"}}
        config = {
            "organizations": {
                org.name: {
                    "destinations": {"team": slack},
                    "rules": [{"name": "breaking", "destinations": ["team"]}],
                }
            }
        }
        env = write_config(tmp_path / "slack.json", config)
        org.env.update({**env, "SLACK_URL": receiver.url})
        org.delivery = WsgiDelivery(org.env)
        org.ingest("r1", BREAKING)
        drain(org.deliverer(), lambda: org.histories()[0].state == "delivered")
        message = receiver.bodies[""]  # Slack is not sent Standard Webhooks headers
        assert f"{org.name}/{PROJECT}/orders" in message["text"]
        assert any("team.billing-platform" in b["text"]["text"] for b in message["blocks"])


def test_the_log_says_when_delivery_falls_behind_and_when_it_catches_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Receiver([]) as receiver:
        org = Org(tmp_path, url=receiver.url)
        org.ingest("r1", BREAKING)
        (history,) = org.histories()
        deliverer = org.deliverer()
        # Another holder's lease that will not end soon: the alert waits past its due time.
        skew = [0.0]
        deliverer.clock = lambda: time.time() + skew[0]
        until = int(time.time() * 1000) + 3_600_000
        lease = {"kind": "lease", "holder": "elsewhere", "at_ms": 0, "until_ms": until}
        assert org.outbox.try_event(org.name, history.id, 1, lease)
        skew[0] = deliverer.policy.lease_ms / 1000 + 60
        with caplog.at_level(logging.WARNING, logger="stricture_server.alerts"):
            assert deliverer.run_once().overdue == 1
            assert deliverer.run_once().overdue == 1  # said once, not on every pass
            skew[0] = 7200.0  # the lease has ended: this deliverer takes the alert
            assert deliverer.run_once().delivered == 1
        said = [r.getMessage() for r in caplog.records if "alert delivery" in r.getMessage()]
        assert said == ["alert delivery is behind", "alert delivery has caught up"]
        assert receiver.counts == {history.id: 1}
