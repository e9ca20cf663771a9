"""Finishing a run: its final status, its series points, its reports.

Done once, by the process that owns the run (the xdist controller, or the
only pytest process), from what the store holds, so every worker's results
and every resumed session count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from goldband._util.progress import Progress
from goldband.report.files import write_reports
from goldband.store import Store
from goldband.store.models import CaseKey
from goldband.store.series import run_points
from goldband.store.writer import finish_run


@dataclass(frozen=True)
class FinishedRun:
    id: str
    status: str
    store: Path
    reports: list[Path] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    trials: int = 0
    problems: list[str] = field(default_factory=list)


def run_status(store: Store, run_id: str, decided: Iterable[CaseKey], *, failed_writes: bool) -> str:
    """complete: every selected item has a verdict and nothing failed to write; else incomplete."""
    planned = {(i["goldenset"], i["case_id"], i["target"]) for i in store.run_items(run_id)}
    return "complete" if planned <= set(decided) and not failed_writes else "incomplete"


def finalize(store: Store, run_id: str, exitstatus: int, reports_dir: Path | None, progress: Progress, *,
             failed_writes: bool) -> FinishedRun | None:
    if store.run(run_id) is None:  # nothing was recorded (no items ran)
        return None
    verdicts = store.verdicts(run_id)
    status = run_status(store, run_id, verdicts, failed_writes=failed_writes)
    with store.transaction() as conn:
        finish_run(conn, run_id, status=status, exit_status=exitstatus)
    run = store.run(run_id)
    assert run is not None
    store.replace_run_series(run_id, run_points(store, run))
    reports: list[Path] = []
    problems: list[str] = []
    if reports_dir is not None:
        try:
            reports = write_reports(store, run_id, reports_dir)
        except Exception as exc:  # the run is recorded; a report problem must not hide that
            problems.append(f"goldband: reports for run {run_id} not written: {type(exc).__name__}: {exc}")
    counts = Counter(str(v.verdict.status) for v in verdicts.values())
    trials = store.conn.execute("SELECT COUNT(*) FROM trials WHERE run_id = ?", [run_id]).fetchone()[0]
    progress.emit("run", id=run_id, status=status, store=str(store.path), reports=[str(p) for p in reports])
    return FinishedRun(run_id, status, store.path, reports, dict(counts), int(trials), problems)
