"""Stores served by the real process without auth: what damage is answered and logged as,
and how a sound record may be cached."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from pathlib import Path

import orjson

from stricture_server.runstore.index import ServiceRef
from stricture_server.storage.fs import FileStorage

from . import factory
from .damage import plant, plant_index_entry, truncated
from .deliveries import HANG_SECONDS, http_send, server_process

JSON = {"Content-Type": "application/json"}


def test_damage_is_answered_and_logged_naming_the_key(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path)
    prefix = "stricture"
    torn = plant(storage, prefix, factory.envelope(organization="o", run_id="torn"), truncated)
    document = factory.envelope(organization="o", run_id="bad-claim")
    bad_claim = plant(storage, prefix, document, claim=truncated)
    half = plant(storage, prefix, factory.envelope(organization="o", run_id="half"), lambda d: None)
    when = datetime(2026, 3, 1, tzinfo=UTC)
    service = ServiceRef("o", "checkout", "api")
    entry = plant_index_entry(storage, prefix, service, "x", b"[", when)
    sound = plant(storage, prefix, factory.envelope(organization="p", run_id="sound"))
    log = tmp_path / "server.log"
    with server_process({"STRICTURE_SERVER_DATA_DIR": str(tmp_path)}, log=log) as (port, process):
        # Without auth a record may sit in shared caches.
        read = http_send(port, "GET", sound.identity.location, {})
        assert (read.status, read.body) == (200, sound.record)
        assert read.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert http_send(port, "GET", torn.identity.location, {}).status == 500
        assert http_send(port, "GET", half.identity.location, {}).status == 404
        replay = http_send(port, "POST", "/v1/artifacts", JSON, orjson.dumps(document))
        assert replay.status == 409
        listing = http_send(port, "GET", service.location, {})
        assert (listing.status, listing.json()["runs"]) == (200, [])
        changes = http_send(port, "GET", "/v1/changes/o/checkout/api", {})
        assert (changes.status, changes.json()["changes"]) == (200, [])
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=HANG_SECONDS)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    named = {(line["level"], line["message"], line.get("key")) for line in lines}
    assert ("error", "record fails its integrity check", torn.record_key) in named
    assert ("error", "record fails its integrity check", bad_claim.claim_key) in named
    assert ("warning", "claim without its record", half.record_key) in named
    assert ("warning", "corrupt index entry skipped", entry) in named
