"""A command run with its stderr on a real pseudo-terminal, for the progress bars drawn only there."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OnTerminal:
    code: int
    terminal: str  # what stderr (the terminal) showed
    stdout: bytes


def goldband_on_terminal(cwd: Path, *args: str, timeout: float = 120) -> OnTerminal:
    """``python -m goldband ARGS`` with stderr on a pty (120 columns) and stdout piped."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "goldband", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=secondary, env={**os.environ, "COLUMNS": "120"})
    os.close(secondary)
    terminal = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        terminal += chunk
    stdout = proc.stdout.read() if proc.stdout else b""
    code = proc.wait(timeout=timeout)
    if proc.stdout:
        proc.stdout.close()
    os.close(primary)
    return OnTerminal(code, terminal.decode(errors="replace"), stdout)
