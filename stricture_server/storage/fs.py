"""The ``fs`` driver: one file per key under a data directory, written durably."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import ObjectExists, ObjectNotFound, StorageUnavailable


class FileStorage:
    """Objects stored at exactly ``<root>/<key>``.

    A create writes a temp file in the target directory, fsyncs it, then ``link``s it to the
    final name, which fails if the name exists: create-if-absent in one atomic step that never
    overwrites. The directory is fsynced after, so an acknowledged record survives a crash, and
    a crash at any moment leaves either no file or the whole file.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise ValueError(f"unsafe storage key {key!r}")
        return self.root.joinpath(*parts)

    def create(self, key: str, data: bytes) -> None:
        """Write ``data`` to ``key`` unless it exists (then :class:`ObjectExists`)."""
        path = self._path(key)
        try:
            _make_dirs(path.parent)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    raise ObjectExists(key) from None
            finally:
                os.unlink(tmp)
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StorageUnavailable(f"filesystem error: {exc.strerror or exc}") from exc

    def read(self, key: str) -> bytes:
        """The file's bytes, or :class:`ObjectNotFound`."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        except NotADirectoryError:
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"filesystem error: {exc.strerror or exc}") from exc

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """Keys under ``prefix`` after ``start_after``, sorted, skipping temp files."""
        directory, _, _ = prefix.rpartition("/")
        base = self._path(directory) if directory else self.root
        found: list[str] = []
        for current, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel = Path(current).relative_to(self.root).as_posix()
            for name in files:
                if name.startswith("."):
                    continue
                key = f"{rel}/{name}" if rel != "." else name
                if key.startswith(prefix) and key > start_after:
                    found.append(key)
        yield from sorted(found)


def _make_dirs(directory: Path) -> None:
    """Create missing directories, fsyncing each parent so the new entries are durable."""
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue  # another writer made it first
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems cannot fsync a directory
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)
