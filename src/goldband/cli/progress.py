"""Progress bars on stderr: ``goldband run``'s, fed by the plugin's events, and one for in-process work.

pytest runs in a child process (so the plugin loads exactly as in any pytest
run). The plugin appends JSON events to a file named by ``GOLDBAND_PROGRESS``
(see ``goldband._util.progress``); this side tails it. With a bar, pytest's own
output is held back and printed after the bar, so the two never interleave;
without one (not a terminal, or ``--no-progress``) pytest's output streams
as usual and only the summary is added.

Commands whose work runs on the engine's loop in this process (``goldband
judge noise``) count finished units in a ``Tally`` (from any thread) and
``wait`` for the engine's future: the bar is drawn from the waiting thread
only, every ``POLL_S``. Like ``goldband run``, they show it by default only
when stderr is a terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click
from click._termui_impl import ProgressBar

from goldband._util.progress import ENV

POLL_S = 0.1


@dataclass
class Events:
    """What the events file has said so far."""

    path: Path
    offset: int = 0
    totals: dict[str, int] = field(default_factory=lambda: {"cases": 0, "trials": 0})
    trials: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    run: dict[str, Any] | None = None

    def read(self) -> None:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.splitlines():
            self._apply(json.loads(line))

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "plan":  # xdist workers each announce the same totals: keep the largest
            for key in ("cases", "trials"):
                self.totals[key] = max(self.totals[key], int(event.get(key, 0)))
        elif kind == "trials":
            self.trials += int(event.get("n", 0))
        elif kind == "case":
            self.verdicts[str(event.get("status"))] += 1
        elif kind == "run":
            self.run = event

    def status(self) -> str:
        order = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR", "QUARANTINED")
        parts = [f"{self.verdicts[k]} {k}" for k in order if self.verdicts.get(k)]
        done = sum(self.verdicts.values())
        return f"{done}/{self.totals['cases']} cases" + (f" · {', '.join(parts)}" if parts else "")


def run_pytest(cmd: list[str], events_path: Path, *, bar: bool) -> tuple[int, Events]:
    """Run pytest; return its exit status and the events it sent."""
    env = {**os.environ, ENV: str(events_path)}
    events = Events(events_path)
    if not bar:
        code = subprocess.call(cmd, env=env)
        events.read()
        return code, events
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = _collect(proc.stdout), _collect(proc.stderr)
    try:
        _draw(proc, events)
    except KeyboardInterrupt:  # the child got the same Ctrl-C; let it report what it has
        proc.wait()
    for (thread, chunks), stream in ((out, sys.stdout), (err, sys.stderr)):
        thread.join()
        if hasattr(stream, "buffer"):
            stream.buffer.write(b"".join(chunks))
        else:  # a text-only stream (click's test runner)
            stream.write(b"".join(chunks).decode(errors="replace"))
        stream.flush()
    events.read()
    return proc.returncode, events


def _collect(pipe: IO[bytes] | None) -> tuple[threading.Thread, list[bytes]]:
    chunks: list[bytes] = []

    def pump() -> None:
        if pipe is not None:
            for chunk in iter(lambda: pipe.read(65536), b""):
                chunks.append(chunk)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread, chunks


def _draw(proc: subprocess.Popen[bytes], events: Events) -> None:
    progress: ProgressBar[None]
    with click.progressbar(length=1, label="goldband", file=sys.stderr, show_pos=True, show_eta=True,
                           item_show_func=lambda _: events.status()) as progress:
        while proc.poll() is None:
            time.sleep(POLL_S)
            events.read()
            total = max(events.totals["trials"], events.trials, 1)
            progress.length = total
            progress.update(events.trials - progress.pos, None)
            progress.render_progress()  # case counts change without new trials
        events.read()
        progress.update(max(0, events.trials - progress.pos), None)
        progress.render_progress()


class CountBar:
    """Units done out of units planned, on stderr, fed from any thread (the engine's loop calls it with
    each batch): a bar on a terminal; elsewhere (a CI log), with ``lines``, a line per tenth, else nothing."""

    def __init__(self, label: str, *, enabled: bool = True, lines: bool = True, unit: str = "trials") -> None:
        self.label, self.enabled, self.lines, self.unit = label, enabled, lines, unit
        self.total = self.done = self._shown = 0
        self._lock = threading.Lock()
        self._bar: ProgressBar[int] | None = None

    def plan(self, total: int) -> None:
        self.total = total
        if not (self.enabled and total):
            return
        if sys.stderr.isatty():
            self._bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_pos=True,
                                          show_eta=True)
            self._bar.render_progress()
        elif self.lines:
            click.echo(f"{self.label}: {total} {self.unit} planned", err=True)

    def __call__(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            if self._bar is not None:
                self._bar.update(n)
            elif self.enabled and self.lines and self.total and (tenth := 10 * self.done // self.total) > self._shown:
                self._shown = tenth
                click.echo(f"{self.label}: {self.done}/{self.total} {self.unit}", err=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.render_finish()
            self._bar = None
