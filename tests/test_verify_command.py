"""``stricture-server verify`` as the real command, on the fs driver and on S3 through moto."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from stricture_server import Settings
from stricture_server.runstore.index import ServiceRef
from stricture_server.storage import Storage, open_storage

from . import factory
from .commands import on_terminal, run_command
from .damage import plant, plant_index_entry, truncated
from .objectstore import emulator, new_bucket, object_env


@dataclass
class Store:
    """A store the command is pointed at by ``env``, and the test's own handle on it."""

    env: dict[str, str]
    storage: Storage
    prefix: str

    def verify(self, *args: str, stderr: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
        """Run ``stricture-server verify`` on this store."""
        return run_command(self.env, "verify", "--jobs", "2", *args, stderr=stderr)


@pytest.fixture(params=["fs", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """An empty store on each driver the command is tested on."""
    env = {"STRICTURE_SERVER_DATA_DIR": str(tmp_path)}
    if request.param == "s3":
        env.update(object_env("s3", new_bucket(), emulator()))
    settings = Settings.from_env(env)
    return Store(env, open_storage(settings), settings.object_prefix)


def output(done: subprocess.CompletedProcess[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The log lines and the summary (the last line) the command wrote on stdout."""
    *logged, summary = [orjson.loads(line) for line in done.stdout.splitlines()]
    return logged, summary


def test_verify_passes_a_sound_store_then_names_every_damaged_object(store: Store) -> None:
    sound = factory.envelope(organization="sound", run_id="r1", commit_sha="abcdef1")
    plant(store.storage, store.prefix, sound, indexed=True)
    clean = store.verify()
    assert clean.returncode == 0, clean.stderr
    assert output(clean) == ([], {"records": 1, "claims": 1, "index": 2, "failed": []})

    def damaged(run_id: str, **kw: Any) -> Any:
        document = factory.envelope(organization="damaged", run_id=run_id)
        return plant(store.storage, store.prefix, document, **kw)

    torn = damaged("torn", record=truncated)
    half = damaged("half", record=lambda data: None)
    bad_claim = damaged("bad-claim", claim=truncated)
    service = ServiceRef("damaged", "checkout", "api")
    when = datetime(2026, 3, 1, tzinfo=UTC)
    entry = plant_index_entry(store.storage, store.prefix, service, "x", b"{", when)
    done = store.verify()
    assert done.returncode == 1
    logged, summary = output(done)
    problems = {failure["key"]: failure["problem"] for failure in summary["failed"]}
    assert problems == {
        torn.record_key: "the record's content does not match its digest",
        half.claim_key: f"claim without its record {half.record_key}: "
        "send the same body again to store it",
        bad_claim.claim_key: problems[bad_claim.claim_key],
        entry: problems[entry],
    }
    assert problems[bad_claim.claim_key].startswith("the claim is not a JSON object")
    assert problems[entry].startswith("not an index object")
    assert (summary["records"], summary["claims"], summary["index"]) == (3, 4, 3)
    # Each failure is logged at error level, naming its key; nothing stored changed.
    assert {(line["level"], line["key"]) for line in logged} == {("error", k) for k in problems}
    assert store.storage.read(torn.record_key) == truncated(torn.record)
    # A scope that leaves the damage out passes.
    scoped = store.verify("--organization", "SOUND")
    assert (scoped.returncode, output(scoped)[1]["failed"]) == (0, [])


def test_a_record_that_is_not_the_one_its_claim_names_fails(store: Store) -> None:
    document = factory.envelope(organization="swapped", run_id="r1")
    other = lambda data: data.replace(b"sha256:", b"sha256:0", 1)  # noqa: E731
    planted = plant(store.storage, store.prefix, document, claim=other)
    done = store.verify()
    assert done.returncode == 1
    (failure,) = output(done)[1]["failed"]
    assert failure == {
        "key": planted.claim_key,
        "problem": f"its record {planted.record_key} has another digest",
    }


def test_verify_draws_a_progress_bar_on_a_terminal(store: Store) -> None:
    plant(store.storage, store.prefix, factory.envelope(run_id="r1"), indexed=True)
    code, drawn = on_terminal(lambda stderr: store.verify(stderr=stderr).returncode)
    assert code == 0
    assert b"3/3" in drawn


def test_a_verify_scope_with_a_gap_or_an_empty_name_is_a_usage_error(tmp_path: Path) -> None:
    env = {"STRICTURE_SERVER_DATA_DIR": str(tmp_path)}
    store = Store(env, open_storage(Settings.from_env(env)), "")
    gap = store.verify("--service", "api")
    assert (gap.returncode, gap.stdout) == (2, "")
    assert "verify: --project needs --organization, --service needs --project" in gap.stderr
    empty = store.verify("--organization", "!!!")
    assert empty.returncode == 2
    assert "org '!!!' is empty once sanitised" in empty.stderr
