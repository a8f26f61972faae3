"""Function mode: ingest only writes the outbox; each platform's scheduled entry drains it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import functions_framework
import orjson
import pytest

from .alerting import BREAKING, Org, Receiver
from .commands import run_command
from .entries import ADAPTERS, FUNCTION_SETTINGS, environment, load_entry


def _command(env: Mapping[str, str]) -> Callable[[], None]:
    def run() -> None:
        result = run_command(env, "deliver")
        assert result.returncode == 0, result.stderr
        done = orjson.loads(result.stdout.splitlines()[-1])
        assert done["alerts"]["delivered"] == 1

    return run


def _aws(env: Mapping[str, str]) -> Callable[[], None]:
    module = load_entry("aws_lambda/handler.py", env, "lambda_scheduled_entry")
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    return lambda: module.scheduled(event, object())


def _gcp(env: Mapping[str, str]) -> Callable[[], None]:
    with environment(env):
        app = functions_framework.create_app(  # type: ignore[no-untyped-call]
            target="stricture_scheduled", source=str(ADAPTERS / "gcp_functions" / "main.py")
        )
    client = app.test_client()

    def run() -> None:
        reply = client.post("/", headers={"User-Agent": "Google-Cloud-Scheduler"})
        assert reply.status_code == 200
        assert reply.get_json()["alerts"]["delivered"] == 1

    return run


def _azure(env: Mapping[str, str]) -> Callable[[], None]:
    module = load_entry("azure_functions/function_app.py", env, "azure_scheduled_entry")
    (timer,) = [f for f in module.app.get_functions() if f.get_function_name() != "stricture"]
    assert [b.type for b in timer.get_bindings()] == ["timerTrigger"]
    return lambda: timer.get_user_function()(None)


ENTRIES: dict[str, Callable[[Mapping[str, str]], Callable[[], Any]]] = {
    "command": _command,
    "aws": _aws,
    "gcp": _gcp,
    "azure": _azure,
}


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_the_scheduled_entry_delivers_what_ingest_left_in_the_outbox(
    tmp_path: Path, entry: str
) -> None:
    secrets = ["whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtMTIzNA=="]
    with Receiver(secrets) as receiver:
        org = Org(tmp_path, url=receiver.url, secrets=secrets)
        env = {**org.env, **FUNCTION_SETTINGS}
        run = ENTRIES[entry](env)
        org.ingest("r1", BREAKING)
        (pending,) = org.histories()
        assert pending.state == "pending"  # nothing runs in the background in function mode
        run()
        (delivered,) = org.histories()
        assert delivered.state == "delivered"
        assert receiver.accepted == {delivered.id: 1}
        assert receiver.unverified == 0
