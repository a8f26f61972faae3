"""AWS Lambda SnapStart: what the instances resumed from one snapshot must not share.

With SnapStart, Lambda runs a version's init once, when the version is published (the entry's
import: settings read, the app and its S3 client built), snapshots the memory, and resumes
every new instance from a copy of it. What the copies would share is renewed after each
restore, through the runtime's hooks (``snapshot_restore_py``, shipped in the Lambda Python
runtime; registered only when Lambda says the init is a SnapStart one):

- random state: ``uuid_utils``' generator, whose 74 random bits make run ids unique (two copies
  would otherwise draw the same bits, the same id within one millisecond), and ``random``'s,
  which spreads retries;
- connections: the S3 client's pool is emptied before the snapshot, and again after a restore;
- per-process deadlines and counts: the storage guard's failures and cool-down, the readiness
  check's expiry, both on a monotonic clock that does not carry over to another machine.

Metrics need nothing: the init answers no request, so every copy starts from zero.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Mapping

import uuid_utils

from ..app import App
from ..storage import Renewing

INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
"""Set by Lambda during the init; ``snap-start`` when the init is the one snapshotted."""


def register(app: App, env: Mapping[str, str]) -> bool:
    """Register the hooks for ``app`` if this init will be snapshotted; whether it was."""
    if env.get(INITIALIZATION_TYPE) != "snap-start":
        return False
    # Imported only here: it exists in the Lambda Python runtimes, not necessarily elsewhere.
    from snapshot_restore_py import register_after_restore, register_before_snapshot

    register_before_snapshot(before_snapshot, app)
    register_after_restore(after_restore, app)
    return True


def before_snapshot(app: App) -> None:
    """Close the store's connections: a socket in the snapshot is dead in every copy."""
    if isinstance(app.runs.storage, Renewing):
        app.runs.storage.renew()
    # A connection the pool let go stays open until the last response read from it is
    # collected, and botocore's responses sit in reference cycles: collect them now.
    gc.collect()


def after_restore(app: App) -> None:
    """Give this copy its own random state, connections, failure counts and deadlines."""
    uuid_utils.reseed_rng()
    random.seed()
    if isinstance(app.runs.storage, Renewing):
        app.runs.storage.renew()
    app.readiness.renew()
