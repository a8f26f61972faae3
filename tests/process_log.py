"""Output of the processes the tests start: one file per process, its tail shown on failure.

A server's whole log in the failure report buries the assertion; the last lines of the process
that was serving the failing request are what a reader needs. Each process writes to its own
file in :data:`DIRECTORY`; a failure inside :func:`process_log` gets the tail as an exception
note, and a failing test gets the tail of every process still running (the session-wide
deployments) as a report section (see ``pytest_runtest_makereport`` in ``conftest.py``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TAIL_LINES = 40
"""How much of a process's output a failure shows."""


DIRECTORY: list[Path] = []
"""Where the files go: set once per session to a directory under pytest's temporary directory,
which pytest prunes after a few sessions (conftest.py); empty, the system's temporary directory."""


class ProcessLog:
    """The file one process writes its stdout and stderr to."""

    def __init__(self, name: str, path: Path | None) -> None:
        self.name = name
        if path is None:
            where = DIRECTORY[0] if DIRECTORY else None
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (kept, for the report)
                prefix=f"{name}-", suffix=".log", dir=where, delete=False
            )
            path = Path(handle.name)
            handle.close()
        self.path = path
        self.file: BinaryIO = path.open("wb")

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last ``lines`` lines written so far."""
        self.file.flush()
        return "\n".join(self.path.read_bytes().decode(errors="replace").splitlines()[-lines:])

    def report(self) -> str:
        """The tail, headed by where the whole output is."""
        return f"last {TAIL_LINES} lines of {self.name} output ({self.path}):\n{self.tail()}"


_RUNNING: list[ProcessLog] = []


def running() -> list[ProcessLog]:
    """The logs of the processes running now."""
    return list(_RUNNING)


@contextmanager
def process_log(name: str, path: Path | None = None) -> Iterator[ProcessLog]:
    """A log file for one process, at ``path`` or a new one in :data:`DIRECTORY`.

    An error raised in the block carries the file's tail and path, unless it names the file
    already.
    """
    log = ProcessLog(name, path)
    _RUNNING.append(log)
    try:
        yield log
    except BaseException as exc:
        if str(log.path) not in str(exc):
            exc.add_note(log.report())
        raise
    finally:
        _RUNNING.remove(log)
        log.file.close()
