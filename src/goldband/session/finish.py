"""Finishing a run: its series points, its reports, and last its final status.

Done once, by the process that owns the run (the xdist controller, or the
only pytest process), from what the store holds, so every worker's results
and every resumed session count. Its cost grows with the number of cases,
not trials: counts are read with SQL and the reports are written case by
case from the store (``report.files``), never from the session's memory.

The run's status, exit status and series points are written in one write
transaction, and its reports are rendered inside it (from that transaction's
view, so they show the final status) and put on disk before it commits. A
process killed anywhere before the commit leaves the run ``running`` (read as
``incomplete`` once its process is gone; ``--goldband-resume`` finishes it):
a run never reads ``complete`` without its series points and reports.

The golden sets' set gates (``band: set:``, ``goldband.session.setgates``) are
computed here too, from the stored verdicts, and kept as ``set_*`` series
points; one that fails the run makes its exit status 1.

A run is ``complete`` when every selected item has a verdict and goldband
failed nothing: a write the store lost during the run, or reports that could
not be written, make it ``incomplete`` with the reason in ``runs.problems``
and its exit status 3 (``failed_status``): goldband failed, not the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from goldband._util.nogc import collector_paused
from goldband._util.progress import Progress
from goldband.bands import setgate
from goldband.bands.setgate import SetBand, SetGate
from goldband.errors import StoreError
from goldband.report.files import write_reports
from goldband.session import setgates
from goldband.store import Store
from goldband.store.locks import serialize
from goldband.store.series import run_points, stored_points
from goldband.store.writer import finish_run, replace_series

GOLDBAND_FAILED = 3  # the exit status when goldband failed (a lost store write, a report not written)


@dataclass(frozen=True)
class FinishedRun:
    id: str
    status: str
    store: Path
    reports: list[Path] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    trials: int = 0
    problems: list[str] = field(default_factory=list)  # what goldband failed to write (runs.problems)
    exit_status: int = 0
    drafts: list[str] = field(default_factory=list)  # golden sets run as drafts: the run is a draft (lock.Draft)
    set_gates: list[SetGate] = field(default_factory=list)  # golden set x target gates (goldband.bands.setgate)


def failed_status(status: int) -> int:
    """The exit status of a run goldband failed: 3 in place of 0 or 1; an interrupt or a usage error keeps its own."""
    return GOLDBAND_FAILED if int(status) in (0, 1) else int(status)


def run_status(store: Store, run_id: str, *, failed: bool) -> str:
    """complete: every selected item has a verdict and goldband failed nothing; else incomplete."""
    planned = {(i["goldenset"], i["case_id"], i["target"]) for i in store.run_items(run_id)}
    return "complete" if planned <= store.verdict_keys(run_id) and not failed else "incomplete"


def finalize(store: Store, run_id: str, exitstatus: int, reports_dir: Path | None, progress: Progress, *,
             problems: Sequence[str] = (), set_bands: Mapping[str, SetBand] | None = None,
             inconclusive: str | None = None) -> FinishedRun | None:
    """Finish the run (see the module docstring); ``problems``: what already failed (lost writes).
    ``set_bands``: the run's golden sets' set bands, whose gates (``session.setgates``) are kept with the
    series points and shown in the reports; one that fails the run makes its exit status 1
    (``inconclusive``: ``--goldband-inconclusive``).

    StoreError when the store cannot record the finish at all (the run then stays ``running``,
    and reads as ``incomplete``)."""
    if store.run(run_id) is None:  # nothing was recorded (no items ran)
        return None
    found = list(problems)
    checkpoint = store.checkpoint_aside()  # the run's log copied into the store while the reports render
    try:
        with collector_paused():  # reports build an object or more per trial: no cycle search over the run's heap
            gates = setgates.gates(store, run_id, set_bands or {}, inconclusive)
            status, code, reports = _finish(store, run_id, exitstatus, reports_dir, found, gates)
    except StoreError as exc:  # nothing of the finish was committed: record at least that the run is incomplete
        found.append(f"series points and reports not written: {exc.what}")
        status, code, reports = "incomplete", failed_status(exitstatus), []
        with store.transaction() as conn:
            finish_run(conn, run_id, status=status, exit_status=code, problems=found)
    finally:
        checkpoint.join()
    counts = store.verdict_counts(run_id)
    trials = store.conn.execute("SELECT COUNT(*) FROM trials WHERE run_id = ?", [run_id]).fetchone()[0]
    progress.emit("run", id=run_id, status=status, store=store.where, reports=[str(p) for p in reports])
    return FinishedRun(run_id, status, store.path, reports, counts, int(trials), found, code,
                       store.draft_goldensets(run_id), gates)


def _finish(store: Store, run_id: str, exitstatus: int, reports_dir: Path | None,
            problems: list[str], gates: list[SetGate]) -> tuple[str, int, list[Path]]:
    """Status, series points and reports in one transaction; ``problems`` gets a report failure."""
    with store.transaction() as conn:
        serialize(conn, "run", run_id)  # PostgreSQL: two finalizers of one run (its last shard and `goldband run
        # --finalize`) one after the other, so its series points are replaced, never written twice
        status = run_status(store, run_id, failed=bool(problems))
        code = failed_status(exitstatus) if problems else setgate.exit_status(exitstatus, gates)
        finish_run(conn, run_id, status=status, exit_status=code, problems=problems)
        run = store.run(run_id)
        assert run is not None
        points = run_points(store, run) + setgates.points(run, gates)
        replace_series(conn, run_id, stored_points(run, points))  # a draft run's points are only reported
        if reports_dir is None:
            return status, code, []
        try:
            return status, code, write_reports(store, run_id, reports_dir, points=points)
        except Exception as exc:  # the run is recorded; a report problem must not hide that
            problems.append(f"reports not written: {type(exc).__name__}: {exc}")
            status, code = "incomplete", failed_status(exitstatus)
            finish_run(conn, run_id, status=status, exit_status=code, problems=problems)
            return status, code, []
