"""Progress events for ``goldband run``'s progress bar (standard library only).

``goldband run`` sets ``GOLDBAND_PROGRESS`` to a file path; every pytest
process of the run (xdist workers too) appends one JSON line per event with
``O_APPEND``, so lines from several processes never interleave. Without the
variable nothing is written. Events::

    {"event": "plan", "cases": 24, "trials": 120}   # per process; xdist workers each send the same totals
    {"event": "trials", "n": 5}                     # a batch of trials finished
    {"event": "case", "status": "PASS"}             # one case's verdict
    {"event": "run", "id": "...", "status": "complete", "store": "...", "reports": ["..."]}
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

ENV = "GOLDBAND_PROGRESS"


class Progress:
    """Appends events to the file named by ``GOLDBAND_PROGRESS``; a no-op without it."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path if path is not None else os.environ.get(ENV) or None
        self._fd: int | None = None
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        """Write one event line; a failing write is ignored (progress is never worth a failed run)."""
        if not self.path:
            return
        line = (json.dumps({"event": event, **fields}, default=str) + "\n").encode()
        with self._lock:
            try:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                os.write(self._fd, line)
            except OSError:
                self.path = None

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
