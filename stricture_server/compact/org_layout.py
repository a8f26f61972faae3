"""The two layouts of an organization's feed entries and late entries, and their listing.

A run's entry in its organization's feed stands for its *feed name*,
``<timeline name>/<project>/<service>`` (:func:`.keys.org_feed_name`): what the feed's order,
its cursors, the organization's compacts and its late entries' bodies all use. The entry is
stored under ``runs/`` in one of two layouts:

- **flat** (this version): ``<timeline name>)<project>.<service>``, one file directly under
  ``runs/``. ``)`` occurs in no timeline name (``[0-9a-z!.-]``) and ``.`` in no project or
  service (``[a-z0-9-]``), so the name reads back one way only. On a filesystem an ingest
  then makes no directory: the nested layout made two per run (every run's timeline name is
  new), each with a ``mkdir`` and an ``fsync``;
- **nested**: the feed name itself, ``<timeline name>/<project>/<service>``, as versions
  before this one wrote every entry, and as this one writes a run whose flat name would be
  longer than a file name may be (255 bytes: a timeline name is up to 255, a project and a
  service up to 128 each); each part of the nested name is at most 255.

A late entry under ``late/`` alike: ``<received>!<time>!<run_id>)<project>.<service>``, or
nested ``<received>!<time>!<run_id>/<project>/<service>``.

Flat names sort among themselves exactly as nested ones do: ``)`` sorts before every character
a timeline name may continue with after a shorter one ends (a digit: two timeline names of which
one begins the other differ only in their counts), as ``/`` does, and ``.`` sorts after ``-``
and before every digit and letter, as ``/`` does. Between the two layouts the order differs
only among the entries of one timeline name (``T)...`` before ``T/...``), which are listed
next to each other: :func:`.feed_listing.entries` sorts each such group, and gives once a run
stored in both layouts (its entry written again by a replay or ``reindex`` of this version).
"""

from __future__ import annotations

from ..runstore.entries import NAME_BUDGET

FLAT = ")"
"""Between the timeline name (or a late entry's run) and the project in a flat name."""
BETWEEN = "."
"""Between the project and the service in a flat name."""


def stored_name(feed_name: str) -> str:
    """The name a feed (or late) entry of ``feed_name`` is stored under: flat, unless too long
    for a file name."""
    head, project, service = feed_name.split("/")
    flat = f"{head}{FLAT}{project}{BETWEEN}{service}"
    return flat if len(flat) <= NAME_BUDGET else feed_name


def feed_name(stored: str) -> str:
    """The feed (or late) name a stored entry's name stands for, in either layout."""
    head, flat, rest = stored.partition(FLAT)
    if not flat:
        return stored
    project, between, service = rest.partition(BETWEEN)
    # Anything else is no entry of this version: left as it is, the scope refuses it.
    return f"{head}/{project}/{service}" if between and "/" not in stored else stored
