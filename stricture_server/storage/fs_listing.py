"""Listing the ``fs`` driver's keys: its directories walked in key order, lazily."""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..errors import StorageUnavailable

LEAF_LINKS = 2
"""The link count of a directory without subdirectories (its name, and its own ``.``)."""


def walk(path: str, rel: str, prefix: str, start_after: str) -> Iterator[str]:
    """The keys under the directory ``path`` (whose keys start with ``rel``), in order."""
    # A file whose key sorts at or before start_after is dropped before the sort: a listing
    # that resumes near the end of a large directory (a lineage feed's ten seconds, listed from the
    # last entry applied) sorts only what follows.
    after = start_after[len(rel) :] if start_after.startswith(rel) else ""
    leaf = _leaf_names(path, after)
    if leaf is not None:
        keys = [rel + name for name in leaf]
        yield from [key for key in keys if key.startswith(prefix) and key > start_after]
        return
    try:
        with os.scandir(path) as found:
            entries = [
                (e.name, is_dir)
                for e in found
                if not e.name.startswith(".") and ((is_dir := e.is_dir()) or e.name > after)
            ]
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise StorageUnavailable(f"filesystem error: {exc.strerror or exc}") from exc
    # Every key under a directory starts with "<name>/": sorted by that, keys come in order.
    for name, is_dir in sorted(entries, key=lambda e: f"{e[0]}/" if e[1] else e[0]):
        key = rel + name
        if not is_dir:
            if key.startswith(prefix) and key > start_after:
                yield key
            continue
        inner = f"{key}/"
        if not (inner.startswith(prefix) or prefix.startswith(inner)):
            continue
        if start_after > inner and not start_after.startswith(inner):
            continue  # every key under it sorts before start_after
        yield from walk(f"{path}/{name}", inner, prefix, start_after)


def _leaf_names(path: str, after: str) -> list[str] | None:
    """The sorted file names after ``after`` of a directory without subdirectories, or None.

    A directory whose link count is 2 has no subdirectory on ext4, XFS and tmpfs (each
    subdirectory's ``..`` adds one; the convention ``find`` relies on). Its names are then
    read with one ``listdir``, without a ``DirEntry`` and a type check each: a lineage
    catch-up lists every feed entry of its margin, thousands, on each ingest. Filesystems that
    count otherwise (btrfs: always 1) and a directory that gains a subdirectory meanwhile
    (the count is read again after) take the general walk.
    """
    try:
        if os.stat(path).st_nlink != LEAF_LINKS:
            return None
        names = os.listdir(path)
        if os.stat(path).st_nlink != LEAF_LINKS:
            return None
    except OSError:
        return None  # the general walk reports it
    found = [name for name in names if name > after and not name.startswith(".")]
    found.sort()
    return found
