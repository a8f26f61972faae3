"""The ``stricture-server`` command run as an operator runs it: configured by the
environment alone, and on a terminal or not."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
from collections.abc import Callable, Mapping

from .deliveries import HANG_SECONDS, ROOT


def run_command(
    env: Mapping[str, str], *args: str, stderr: int = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    """``stricture-server <args>`` with ``env`` as its only ``STRICTURE_SERVER_*`` variables."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STRICTURE_SERVER_")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "stricture_server", *args],
        env=full_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=HANG_SECONDS,
        check=False,
    )


def on_terminal(run: Callable[[int], int]) -> tuple[int, bytes]:
    """Call ``run`` with a terminal's file descriptor for stderr; its result and what it drew."""
    terminal, child_end = os.openpty()
    # A new pseudo-terminal is 0 columns wide; tqdm sizes its bar to the terminal.
    fcntl.ioctl(child_end, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        result = run(child_end)
    finally:
        os.close(child_end)
    drawn = b""
    try:
        while chunk := os.read(terminal, 65536):
            drawn += chunk
    except OSError:  # Linux answers EIO once the other end is closed and drained
        pass
    finally:
        os.close(terminal)
    return result, drawn
