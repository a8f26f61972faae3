"""The ``fs`` driver: one file per key under a data directory, written durably."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from ..errors import ObjectExists, ObjectNotFound, StorageUnavailable
from .fs_listing import walk

# Where the kernel offers them, a create writes an anonymous file (O_TMPFILE) and gives it its
# name through /proc/self/fd with linkat: no temp name to create and remove, and a crash leaves
# nothing behind. Filesystems without O_TMPFILE answer one of these; a sandbox whose /proc does
# not lead back to the file fails the link with one of these.
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL}
_NO_PROC_LINK = {errno.ENOENT, errno.EXDEV, errno.EPERM, errno.EACCES, errno.EINVAL}


class _Exists(Exception):
    """The final name exists: the create is refused (raised where the key is not known)."""


class FileStorage:
    """Objects stored at exactly ``<root>/<key>``.

    A create writes a file the directory does not name yet, fsyncs it, then links it to the final
    name, which fails if the name exists: create-if-absent in one atomic step that never
    overwrites. The directory is fsynced after, so an acknowledged record survives a crash, and
    a crash at any moment leaves either no file or the whole file. The file is anonymous
    (``O_TMPFILE``) where the kernel, the filesystem and ``/proc`` allow it, a dot-named temp
    file otherwise, decided on the first create that fails; ``anonymous_temp=False`` forces the
    second. ``proc_fd`` is where the process's descriptors are visible.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        anonymous_temp: bool = True,
        proc_fd: str = "/proc/self/fd",
    ) -> None:
        self.root = Path(root).absolute()
        self._root = str(self.root)
        self._proc_fd = proc_fd
        self._anonymous = anonymous_temp and hasattr(os, "O_TMPFILE") and os.path.isdir(proc_fd)

    def _path(self, key: str) -> str:
        # No empty segment, none starting with a dot (".", ".." and temp files among them),
        # checked on the string: every create, read and listing asks, about ten per ingest.
        if not key or key[0] in "./" or key[-1] == "/" or "//" in key or "/." in key:
            raise ValueError(f"unsafe storage key {key!r}")
        return f"{self._root}/{key}"

    def create(self, key: str, data: bytes) -> None:
        """Write ``data`` to ``key`` unless it exists (then :class:`ObjectExists`)."""
        directory, _, name = self._path(key).rpartition("/")
        try:
            dir_fd = _open_dir(directory)
            try:
                if not (self._anonymous and self._create_anonymous(dir_fd, name, data)):
                    _create_named(dir_fd, name, data)
                _fsync_ignoring_unsupported(dir_fd)
            finally:
                os.close(dir_fd)
        except _Exists:
            raise ObjectExists(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"filesystem error: {exc.strerror or exc}") from exc

    def _create_anonymous(self, dir_fd: int, name: str, data: bytes) -> bool:
        """Create through an anonymous file; False (from then on) where that cannot work."""
        try:
            fd = os.open(".", os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno not in _NO_TMPFILE:
                raise
            self._anonymous = False
            return False
        try:
            _write_all(fd, data)
            os.fsync(fd)
            try:
                # follow_symlinks makes this linkat(AT_SYMLINK_FOLLOW): the link names the file
                # the /proc entry points to, not the entry itself.
                os.link(f"{self._proc_fd}/{fd}", name, dst_dir_fd=dir_fd, follow_symlinks=True)
            except FileExistsError:
                raise _Exists from None
            except OSError as exc:
                if exc.errno not in _NO_PROC_LINK:
                    raise
                self._anonymous = False  # the unnamed file goes away with its descriptor
                return False
        finally:
            os.close(fd)
        return True

    def read(self, key: str) -> bytes:
        """The file's bytes, or :class:`ObjectNotFound`."""
        try:
            with open(self._path(key), "rb") as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"filesystem error: {exc.strerror or exc}") from exc

    def list(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """Keys under ``prefix`` after ``start_after``, sorted, skipping temp files.

        Lazy: directories are read one at a time, in key order, and only those that can hold a
        key under ``prefix`` after ``start_after``, so a caller that stops after the first keys
        reads a few directories, not the tree.
        """
        directory, _, _ = prefix.rpartition("/")
        base = self._path(directory) if directory else self._root
        yield from walk(base, f"{directory}/" if directory else "", prefix, start_after)


def _create_named(dir_fd: int, name: str, data: bytes) -> None:
    """Create through a dot-named temp file in the directory, removed after the link."""
    tmp = f".tmp-{secrets.token_hex(8)}"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except FileExistsError:
            raise _Exists from None
    finally:
        os.unlink(tmp, dir_fd=dir_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _open_dir(directory: str) -> int:
    """A descriptor of ``directory``, created (durably) first if it is missing."""
    try:
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        _make_dirs(Path(directory))
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


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
        _fsync_ignoring_unsupported(fd)
    finally:
        os.close(fd)


def _fsync_ignoring_unsupported(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems cannot fsync a directory
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
