"""Raising alerts at ingest: the rules, the matching, the outbox and the payload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from stricture_server.alerts.payload import slack_message
from stricture_server.alerts.setup import alerts_config
from stricture_server.config.file import SCHEMA_DIR
from stricture_server.settings import ConfigError, Settings

from .alerting import (
    BREAKING,
    PROJECT,
    SELF_ONLY,
    URL,
    Org,
    new_secret,
    rules_config,
    write_config,
)
from .commands import run_command
from .test_lineage_impact import change

ALERT_SCHEMA = Draft202012Validator(
    orjson.loads((SCHEMA_DIR / "alert.schema.json").read_bytes()),
    format_checker=Draft202012Validator.FORMAT_CHECKER,
)


def test_a_breaking_change_raises_one_alert_per_destination_before_the_answer(
    tmp_path: Path,
) -> None:
    org = Org(tmp_path)
    assert org.alerts() == []  # the consumers' runs have no diff
    org.ingest("r1", BREAKING, change("Orders:api", field_id="f_y"), SELF_ONLY)
    (alert,) = org.alerts()
    assert alert["destination"] == "hook"
    payload = alert["payload"]
    assert list(ALERT_SCHEMA.iter_errors(payload)) == []
    assert payload["type"] == "stricture.drift.alert"
    assert payload["id"] == alert["id"]
    assert payload["location"] == f"/v1/artifacts/{org.name}/{PROJECT}/orders/r1"
    assert payload["url"] == f"https://lineage.example.com{payload['location']}"
    assert payload["rules"] == ["breaking"]
    # The self-only change is tracked, not alerted; both downstream changes are in one alert.
    assert [c["index"] for c in payload["changes"]] == [0, 1]
    first = payload["changes"][0]
    assert (first["impact"], first["system"], first["severity"]) == (
        "downstream",
        "orders:api",
        "high",
    )
    reached = {item["system"]: item for item in first["impacted"]}
    assert reached["billing:api"]["owner"] == "team.billing-platform"
    assert reached["billing:api"]["contacts"][0]["channel"] == "pagerduty:billing"
    assert {"id": "checkout", "name": "Checkout", "level": 1} in reached["billing:api"]["flows"]
    totals = payload["totals"]
    assert totals["changes"] == 2
    assert totals["by_severity"]["high"] == 2
    assert totals["impacted_services"] == 3
    # A replay of the run raises nothing new: the alert id is the run's.
    org.ingest("r1", BREAKING, change("Orders:api", field_id="f_y"), SELF_ONLY)
    assert [a["id"] for a in org.alerts()] == [alert["id"]]


def test_self_only_and_low_changes_raise_nothing_under_the_default_rule(tmp_path: Path) -> None:
    org = Org(tmp_path)
    low = {**BREAKING, "severity": "low"}
    org.ingest("r1", SELF_ONLY, low, change("Nobody:api"))
    assert org.alerts() == []


@pytest.mark.parametrize(
    ("rule", "indexes"),
    [
        ({}, [0]),
        ({"severity": ["high", "low"]}, [0, 2]),
        ({"impact": ["self_only"]}, [1]),
        ({"change_types": ["field_renamed"]}, []),
        ({"min_impacted_services": 3}, [0]),
        ({"min_impacted_services": 4}, []),
        ({"flows": {"max_level": 1}}, [0]),
        ({"flows": {"max_level": 0}}, []),
        ({"flows": {"ids": ["reporting"]}}, [0]),
        ({"services": ["billing", "ship*"]}, []),
        ({"projects": ["plat*"], "services": ["ord*"]}, [0]),
    ],
)
def test_each_criterion_of_a_rule_selects_changes(
    tmp_path: Path, rule: dict[str, Any], indexes: list[int]
) -> None:
    org = Org(tmp_path, [{"name": "r", "destinations": ["a"], **rule}])
    org.ingest("r1", BREAKING, SELF_ONLY, {**BREAKING, "severity": "low"})
    found = [[c["index"] for c in a["payload"]["changes"]] for a in org.alerts()]
    assert found == ([indexes] if indexes else [])


def test_rules_sending_to_one_destination_make_one_alert(tmp_path: Path) -> None:
    rules = [
        {"name": "breaking", "destinations": ["a", "b"]},
        {"name": "inside", "destinations": ["a"], "impact": ["self_only"]},
    ]
    org = Org(tmp_path, rules)
    org.ingest("r1", BREAKING, SELF_ONLY)
    alerts = {a["destination"]: a["payload"] for a in org.alerts()}
    assert sorted(alerts) == ["a", "b"]
    assert alerts["a"]["rules"] == ["breaking", "inside"]
    assert [c["index"] for c in alerts["a"]["changes"]] == [0, 1]
    assert [c["index"] for c in alerts["b"]["changes"]] == [0]
    assert alerts["a"]["id"] != alerts["b"]["id"]


def test_each_rule_selects_the_changes_of_its_own_severities(tmp_path: Path) -> None:
    rules = [
        {"name": "high", "destinations": ["a"]},
        {"name": "low", "destinations": ["b"], "severity": ["low"]},
    ]
    org = Org(tmp_path, rules)
    org.ingest("r1", BREAKING, SELF_ONLY, {**BREAKING, "severity": "low"})
    alerts = {a["destination"]: a["payload"] for a in org.alerts()}
    assert [c["index"] for c in alerts["a"]["changes"]] == [0]
    assert [c["index"] for c in alerts["b"]["changes"]] == [2]


def test_the_slack_message_names_the_cause_the_impacted_and_who_to_call(tmp_path: Path) -> None:
    org = Org(tmp_path)
    org.ingest("r1", {**BREAKING, "suggestion": "keep the field one more release"})
    (alert,) = org.alerts()
    message = slack_message(alert["payload"])
    text = "\n".join(block["text"]["text"] for block in message["blocks"])
    assert f"{org.name}/{PROJECT}/orders" in message["text"]
    assert "https://lineage.example.com/v1/artifacts/" in message["text"]
    assert "keep the field one more release" in text
    assert "team.billing-platform" in text
    assert "Billing Oncall pagerduty:billing" in text


@pytest.mark.parametrize(
    ("destination", "env", "expected"),
    [
        (
            {"type": "webhook", "url": URL, "secrets": [{"env": "S"}]},
            {"S": "plain"},
            "not a signing secret",
        ),
        (
            {"type": "webhook", "url": "http://hooks.example.com/", "secrets": [{"env": "S"}]},
            {},
            "must be https",
        ),
        (
            {"type": "webhook", "url": "http://10.0.0.1/", "secrets": [{"env": "S"}]},
            {},
            "must be https",
        ),
        ({"type": "slack", "url": {"env": "SLACK"}}, {"SLACK": "ftp://x"}, "must be https"),
        ({"type": "slack", "url": {"env": "SLACK"}}, {}, "SLACK is not set"),
        ({"type": "webhook", "url": URL}, {}, "'secrets' is a required property"),
    ],
)
def test_a_bad_destination_stops_the_start(
    tmp_path: Path, destination: dict[str, Any], env: dict[str, str], expected: str
) -> None:
    config = {
        "organizations": {
            "acme": {
                "destinations": {"d": destination},
                "rules": [{"name": "r", "destinations": ["d"]}],
            }
        }
    }
    full = {"S": new_secret(), **env, **write_config(tmp_path / "server.json", config)}
    full["STRICTURE_SERVER_ALERT_ALLOW_LOOPBACK"] = "false"
    with pytest.raises(ConfigError, match=expected):
        alerts_config(Settings.from_env(full))


def test_a_rule_naming_an_unknown_destination_stops_the_start(tmp_path: Path) -> None:
    config = rules_config("acme", URL, [{"name": "r", "destinations": ["a", "nowhere"]}])
    env = {"ALERT_SECRET_0": new_secret(), **write_config(tmp_path / "server.json", config)}
    with pytest.raises(ConfigError, match="no destination named 'nowhere'"):
        alerts_config(Settings.from_env(env))


@pytest.mark.parametrize("command", ["serve", "deliver"])
def test_serve_and_deliver_stop_at_start_on_a_bad_alerts_section(
    tmp_path: Path, command: str
) -> None:
    config = rules_config("acme", URL, [{"name": "r", "destinations": ["nowhere"]}])
    env = {"ALERT_SECRET_0": new_secret(), **write_config(tmp_path / "server.json", config)}
    env["STRICTURE_SERVER_DATA_DIR"] = str(tmp_path / "data")
    result = run_command(env, command)
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "no destination named 'nowhere'" in result.stderr
    assert "Traceback" not in result.stderr


def test_deliver_without_alert_rules_does_nothing_and_says_so(tmp_path: Path) -> None:
    result = run_command({"STRICTURE_SERVER_DATA_DIR": str(tmp_path / "data")}, "deliver")
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout.splitlines()[-1]) == {"alerts": None, "audit": {"seals": 0}}
