"""The run recorder: one pytest session's results into the store, as they happen.

Lifecycle (driven by the session; each step is a no-op when the store is off):

``begin(items)``         main thread, after selection: open + migrate the session's store,
                         create the run (or reopen a resumed one), record golden sets,
                         targets, rubrics, cases and the selected items; start the writer.
``on_trials``            engine loop: queue each batch of scored trials (kept if killed).
``completed(plan)``      engine loop: a resumed run's stored trials, so they are not rerun.
``finish_item``          main thread: queue the verdict (or, when the session compares with a
                         baseline, ``write_verdict`` at the end, once, with its delta).
``session_finished``     flush; the controller process then writes the run's series points
                         and reports, and last marks it complete or incomplete
                         (``goldband.session.finish``).
``exit_status``          the session's exit status, 3 when goldband failed the run: a write
                         the store lost (here or on an xdist worker), reports not written,
                         a finish the store could not record.

Under pytest-xdist every worker records its own items into the run its
controller named (``shared_info`` travels in ``workerinput``); the controller,
which runs no items, finalizes from the store once the workers are done.
"""

from __future__ import annotations

import functools
import os
import socket
import sqlite3
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from goldband._util import yamlio
from goldband._util.gitinfo import GitInfo, git_info
from goldband._util.progress import Progress
from goldband._util.runid import new_run_id, now
from goldband._version import __version__
from goldband.compare.cases import Comparison
from goldband.config.settings import OFF, Settings
from goldband.engine.plan import CasePlan
from goldband.errors import GoldbandError, StoreError
from goldband.golden.goldenset import GoldenSet
from goldband.report.comparison import terminal as comparison_text
from goldband.results import ScoredTrial, Verdict
from goldband.session import records, setgates, shards
from goldband.session.finish import FinishedRun, failed_status, finalize
from goldband.session.resume import check_resumable, check_stopped, reap_dead_runs
from goldband.session.storage import StoreHandle
from goldband.session.writer import BackgroundWriter, Op, TrialWrite
from goldband.store import RunRow
from goldband.store.models import Rendering, StoredVerdict
from goldband.store.postgres import locate, postgres_url
from goldband.store.writer import (
    TrialBatch,
    begin_shard,
    insert_goldenset,
    insert_items,
    insert_rendering,
    insert_rubric,
    insert_run,
    insert_target,
    insert_verdict,
    reopen_run,
)


def default_kind() -> str:
    """``ci`` when the CI variable is set (every major CI sets it), else ``manual``."""
    return "ci" if os.environ.get("CI", "").lower() not in ("", "0", "false") else "manual"


def resolve_path(value: str | None, root: Path) -> Path | None:
    """A configured path relative to the project root (a store may be a PostgreSQL URL); None when switched
    off."""
    if value is None or value.strip().lower() in OFF:
        return None
    return locate(value, root)


class RunRecorder:
    """Records one session's run into the session's store (``StoreHandle``); see the module docstring."""

    def __init__(self, settings: Settings, *, store: StoreHandle, reports: str, mode: str) -> None:
        shared: dict[str, Any] = dict(settings.shared_run or {})
        self.settings = settings
        self.store = store
        self.reports_dir = resolve_path(settings.report or reports, settings.rootpath)
        self.kind = shared.get("kind") or settings.kind or default_kind()
        self.mode = mode
        self.shard = settings.shard  # (i, K) under --goldband-shard: K jobs record this one run (``session.shards``)
        self.run_id: str = shared.get("id") or shards.shard_run_id(settings.run_id, self.shard) or new_run_id()
        self.shard_note: str | None = None  # a shard that did not finalize the run: which shards it waits for
        self.baseline_ref: str | None = None  # a shard's --goldband-baseline, pinned (``shards.baseline_ref``)
        self.comparison: Comparison | None = None  # a sharded run's, made by the shard that finalized it
        self.resume_ref: str | None = shared.get("resume", settings.resume)
        self.owner = (shared.get("host") or socket.gethostname(), int(shared.get("pid") or os.getpid()))
        self.command = shared.get("command") or settings.command
        self.started_at = shared.get("started_at") or now()
        self.progress = Progress()
        self.began = False
        self._announced = False
        self.handed_out = False
        self.finished: FinishedRun | None = None
        self.failed: GoldbandError | None = None  # an xdist worker's store problem, reported by each item
        self.warnings: list[str] = []
        self.lost_writes = 0  # writes the store lost: this process's, and (controller) its workers'
        self.unfinished = False  # the store could not record the run's finish
        self._status = 0  # the exit status the session finished with, before goldband's own failures
        self.git: GitInfo | None = None  # what the run records; default: the root's checkout (pre-merge sets it)
        self._writer: BackgroundWriter | None = None  # published once the run and its items are recorded
        self._early: list[Op] = []  # writes queued before that (the engine may start first: ``Session.start``)
        self._gate = threading.Lock()  # orders early writes before every later one
        self._kept: dict[tuple[str, str, str], list[ScoredTrial]] = {}
        self._seen: set[tuple[str, ...]] = set()
        self._renderings: dict[tuple[str, str, str], Rendering | None] = {}
        self.goldenset_hashes: dict[str, str] = {}  # name -> content hash, for the verdicts
        self.rubric_hashes: dict[str, str] = {}  # check label -> rubric hash, for the scores
        self.drafts: Collection[str] = ()  # golden sets run as drafts (the planner's): the run is a draft
        self.goldensets: Mapping[str, GoldenSet] = {}  # the planner's, by name: their set bands gate the run

    @property
    def store_path(self) -> Path | None:
        return self.store.path

    @property
    def enabled(self) -> bool:
        return self.store.enabled

    def preflight(self) -> None:
        """xdist controller, before workers start: a bad store or resume is one usage error here
        (a worker can only fail its items), and a resumed run's id is resolved once for all."""
        if not self.store.enabled:
            return
        store = self.store.open(create=self.resume_ref is None)
        reap_dead_runs(store)
        if self.resume_ref is not None:
            run = store.resolve_run(self.resume_ref)
            check_stopped(run, self.owner)
            self.run_id = self.resume_ref = run.id

    def shared_info(self) -> dict[str, Any]:
        """What an xdist controller hands each worker, so all of them write one run."""
        self.handed_out = True
        return {"id": self.run_id, "resume": self.resume_ref, "kind": self.kind, "host": self.owner[0],
                "pid": self.owner[1], "command": self.command, "started_at": self.started_at}

    # the session ------------------------------------------------------------------------------

    def begin(self, items: list[tuple[str, CasePlan]], goldensets: dict[str, GoldenSet],
              rubrics: list[dict[str, Any]]) -> None:
        """Open the run (first call) and record these items and the ``rubrics`` their checks score with
        (``goldband.session.judging.rubric_identities``); GoldbandError on a bad store or resume.

        On an xdist worker the error is also kept and raised again for every later item, so
        each item fails with the message (a worker cannot stop the session cleanly).
        """
        if self.failed is not None:
            raise self.failed
        if not self._announced:  # the selection, once (later calls are single xdist items)
            self._announced = True
            self.progress.emit("plan", cases=len(items), trials=sum(p.runs.min for _, p in items))
        if not self.store.enabled:
            return
        writer = None
        try:
            writer = self._open(items, goldensets) if not self.began else None
            self._register(items, goldensets, rubrics)
        except GoldbandError as exc:
            if self.settings.worker:
                self.failed = exc
            raise
        finally:
            if writer is not None:  # also when registering failed: what it loses is counted, not dropped
                self._publish(writer)

    def _publish(self, writer: BackgroundWriter) -> None:
        """Hand the writer the writes queued before the run was recorded, then every later one."""
        with self._gate:
            for op in self._early:
                writer.put(op)
            self._early = []
            self._writer = writer

    def _put(self, op: Op) -> None:
        """Queue one write: to the writer, or (before the run is recorded) in order for it."""
        with self._gate:
            writer = self._writer
            if writer is None:
                self._early.append(op)
                return
        writer.put(op)

    def on_trials(self, plan: CasePlan, scored: list[ScoredTrial]) -> None:
        """Queue a batch of one item's trials, after the messages they were sent (stored once per rendering)."""
        if self.store.enabled:
            sent = self._rendering(plan)
            if sent is not None and not self.seen(("rendering", sent.hash)):
                self._put(functools.partial(insert_rendering, record=sent))
            self._put(TrialWrite(self.run_id, TrialBatch(plan.goldenset, list(scored), self.rubric_hashes,
                                                         sent.hash if sent else None)))
        self.progress.emit("trials", n=len(scored))

    def _rendering(self, plan: CasePlan) -> Rendering | None:
        """The plan's rendering, hashed once per item (an item's trials arrive in several batches)."""
        key = (plan.goldenset, plan.case.id, plan.target.name)
        if key not in self._renderings:
            self._renderings[key] = records.rendering(plan)
        return self._renderings[key]

    def completed(self, plan: CasePlan) -> list[ScoredTrial]:
        return list(self._kept.get((plan.goldenset, plan.case.id, plan.target.name), ()))

    def finish_item(self, nodeid: str, plan: CasePlan, verdict: Verdict, *, write: bool = True) -> None:
        """One item is settled (main thread): report progress, and queue its verdict unless ``write`` is
        False (the session writes it later with its baseline delta, ``write_verdict``)."""
        if write:
            self.write_verdict(nodeid, plan, verdict)
        if not self.seen(("case", nodeid)):
            self.progress.emit("case", status=verdict.status)

    def write_verdict(self, nodeid: str, plan: CasePlan, verdict: Verdict) -> None:
        """Queue one item's verdict for the store (once per item and run)."""
        if self.store.enabled:
            record = StoredVerdict(plan.goldenset, plan.case.id, plan.target.name, nodeid,
                                   self.goldenset_hashes.get(plan.goldenset), plan.target.content_hash, verdict)
            self._put(functools.partial(insert_verdict, run_id=self.run_id, record=record))

    def session_finished(self, exitstatus: int) -> FinishedRun | None:
        """Flush this process's writes; the controller then finalizes the run."""
        self._status = int(exitstatus)
        if self._writer is not None:
            self._writer.close()
            self.write_failed(self._writer.lost, [str(e) for e in self._writer.errors[:3]])
        if self.settings.worker or not (self.began or self.handed_out) or not self.store.enabled:
            return None
        try:
            status = self.exit_status(exitstatus)
            if self.shard is not None:
                status, ready = self._finish_shard(status, self.shard)
                if not ready:
                    return None
            self.finished = self._finalize(status)
        except GoldbandError as exc:
            self.unfinished = True
            self.warnings.append(f"goldband: could not finish run {self.run_id}: {exc}")
        return self.finished

    def _finish_shard(self, status: int, shard: tuple[int, int]) -> tuple[int, bool]:
        """Mark this shard finished: (the run's exit status so far, whether this shard finalizes the run)."""
        store = self.store.existing()
        if store is None:
            return status, False
        run = shards.finish(store, self.run_id, shard, status)
        if not run.ready:
            left = run.waiting() if len(run.finished) < run.total else f"{run.unsettled} items have no verdict"
            self.shard_note = (f"goldband: shard {shard[0]}/{shard[1]} of run {self.run_id} recorded; {left} (the "
                               f"last shard to finish finalizes the run, or: goldband run --finalize {self.run_id})")
        return max(status, run.exit_status), run.ready

    def write_failed(self, lost: int, errors: list[str]) -> None:
        """``lost`` writes did not reach the store (this process's writer, or an xdist worker's)."""
        self.lost_writes += lost
        self.warnings.extend(f"goldband: store write failed: {e}" for e in errors)

    def worker_output(self) -> dict[str, Any]:
        """What an xdist worker tells its controller (``workeroutput``): the writes its store lost."""
        errors = [str(e) for e in self._writer.errors[:3]] if self._writer is not None else []
        return {"goldband_lost_writes": self.lost_writes, "goldband_write_errors": errors}

    def exit_status(self, status: int) -> int:
        """The session's exit status: 3 in place of 0 or 1 when goldband failed the run (``failed_status``);
        1 in place of 0 when this shard finalized a run that regressed against its baseline."""
        failed = self.lost_writes or self.unfinished or (self.finished is not None and self.finished.problems)
        if failed:
            return failed_status(status)
        regressed = self.comparison is not None and self.comparison.regressions
        return 1 if regressed and int(status) == 0 else int(status)

    def close(self) -> None:
        """Stop the writer (what is queued is committed); the session closes the store."""
        if self._writer is not None:
            self._writer.close()
        self.progress.close()

    def junit_properties(self) -> list[tuple[str, object]]:
        """Per-item JUnit properties naming the run, so a CI result links to the store."""
        return [("goldband_run", self.run_id)] if self.began else []

    def summary_lines(self, *, with_counts: bool = False) -> list[str]:
        """Warnings, then where the run went; ``with_counts`` (xdist controller): its verdict counts too."""
        lines = list(self.warnings) + ([self.shard_note] if self.shard_note else [])
        if self.comparison is not None:  # a sharded run's, over all its shards
            lines.append(comparison_text(self.comparison))
        failed = self._failure_line()
        if failed:
            lines.append(failed)
        run = self.finished
        if run is not None:
            if with_counts and run.counts:
                order = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR", "QUARANTINED")
                counts = ", ".join(f"{run.counts[k]} {k}" for k in order if run.counts.get(k))
                lines.append(f"goldband: {counts} · {run.trials} trials")
            root = self.settings.rootpath
            shown = [yamlio.relative(p, root) for p in run.reports if p.suffix == ".html"]
            store = postgres_url(str(run.store)) or yamlio.relative(run.store, root)  # a URL as given
            lines.append(f"goldband: run {run.id} {run.status} · store {store}"
                         + (f" · report {shown[0]}" if shown else ""))
        return lines

    def _failure_line(self) -> str | None:
        """One line saying what goldband failed to write, that the run is incomplete, and the exit status."""
        what = list(self.finished.problems) if self.finished is not None else []
        if self.lost_writes and not what:  # the finish itself failed: its problems were not recorded
            what.append(f"{self.lost_writes} store write{'s' * (self.lost_writes != 1)} lost")
        if self.unfinished:
            what.append("its finish was not recorded")
        if not what:
            return None
        store = self.lost_writes or self.unfinished or any(w.startswith("series") for w in what)
        return (f"goldband: {'store write failed: ' if store else ''}run {self.run_id} is incomplete: "
                f"{'; '.join(what)} (exit status {self.exit_status(self._status)}: goldband failed, not the model)")

    # opening ----------------------------------------------------------------------------------

    def _open(self, items: list[tuple[str, CasePlan]], goldensets: dict[str, GoldenSet]) -> BackgroundWriter:
        """Open the store and record the run (or reopen the resumed one); the writer, not yet published."""
        store = self.store.open(create=self.resume_ref is None)
        reap_dead_runs(store)
        if self.resume_ref is not None:
            run = store.resolve_run(self.resume_ref)
            self.run_id = run.id
            check_resumable(store, run, items, goldensets, self.owner)
            self._kept = store.scored_trials(run.id)
        if self.shard is not None:
            shards.check(store, self.run_id, self.shard)
            self.baseline_ref = shards.baseline_ref(store, self.settings.baseline, root=self.settings.rootpath,
                                                    run_id=self.run_id, environment=self.settings.environment)
        with store.transaction() as conn:
            self._record_run(conn, len(items))
        self.began = True
        return BackgroundWriter(store)

    def _record_run(self, conn: sqlite3.Connection, items: int) -> None:
        """Create the run, reopen the resumed one or join the sharded one (``_join``); then this shard's row."""
        if self.resume_ref is not None:
            reopen_run(conn, self.run_id, host=self.owner[0], pid=self.owner[1])
        elif not insert_run(conn, self._run_row()) and (self.shard is not None or not self.settings.shared_run):
            self._join(conn)
        if self.shard is not None:
            begin_shard(conn, self.run_id, shard=self.shard[0], shards=self.shard[1], items=items)

    def _join(self, conn: sqlite3.Connection) -> None:
        """``--goldband-run-id`` names a run the store holds: a shard joins it (running again, owned by this
        process, or its xdist controller); an unsharded run refuses, as it would mix two runs' results under one
        id (its xdist workers, which share one run, never get here)."""
        if self.shard is None:
            raise StoreError(f"run {self.run_id} exists already in the store", where="--goldband-run-id",
                             fix=f"give a new run id, or continue that run with --goldband-resume {self.run_id}")
        reopen_run(conn, self.run_id, host=self.owner[0], pid=self.owner[1])

    def _run_row(self) -> RunRow:
        git = self.git or git_info(self.settings.rootpath)
        s = self.settings
        return RunRow(self.run_id, self.kind, "running", self.started_at, git_sha=git.sha, git_branch=git.branch,
                      git_dirty=git.dirty, goldband_version=__version__, command=self.command,
                      root=str(s.rootpath), host=self.owner[0], pid=self.owner[1], mode=self.mode,
                      environment=s.environment,
                      settings={"runs": s.runs, "targets": list(s.targets or []) or None,
                                "concurrency": s.concurrency, "timeout_s": s.timeout_s}
                      | ({"baseline": self.baseline_ref} if self.baseline_ref else {}))

    def _register(self, items: list[tuple[str, CasePlan]], goldensets: dict[str, GoldenSet],
                  rubrics: list[dict[str, Any]]) -> None:
        """Golden sets, targets, rubrics and items not recorded yet, in one transaction."""
        ops = self._register_ops(items, goldensets, rubrics)
        if ops:
            with self.store.open().transaction() as conn:
                for op in ops:
                    op(conn)

    def _register_ops(self, items: list[tuple[str, CasePlan]], goldensets: dict[str, GoldenSet],
                      rubrics: list[dict[str, Any]]) -> list[Op]:
        """Writes for whatever in ``items`` this run has not recorded yet."""
        ops: list[Op] = [*self._goldenset_ops(items, goldensets)]
        # targets and rubrics in one order in every process: on PostgreSQL two runs (or shards) registering the same
        # new rows in opposite orders would each wait on the other's uncommitted insert (a deadlock)
        targets = sorted({plan.target.name: plan.target for _, plan in items}.items())
        ops += [functools.partial(insert_target, run_id=self.run_id, record=records.target_record(target))
                for name, target in targets if not self.seen(("target", name))]
        for identity in sorted(rubrics, key=lambda r: (str(r["rubric_hash"]), str(r["judge_hash"]))):
            identity = dict(identity)
            self.rubric_hashes[identity.pop("label")] = identity["rubric_hash"]
            if not self.seen(("rubric", identity["rubric_hash"], identity["judge_hash"])):
                ops.append(functools.partial(insert_rubric, run_id=self.run_id, **identity))
        fresh = [(p.goldenset, p.case.id, p.target.name, nodeid, p.runs.min, p.runs.max)
                 for nodeid, p in items if not self.seen(("item", nodeid))]
        if fresh:
            ops.append(functools.partial(insert_items, run_id=self.run_id, items=fresh))
        return ops

    def _goldenset_ops(self, items: list[tuple[str, CasePlan]], goldensets: dict[str, GoldenSet]) -> list[Op]:
        ops: list[Op] = []
        for name in sorted({p.goldenset for _, p in items}):
            gs = goldensets.get(name)
            if gs is not None and not self.seen(("goldenset", name)):
                self.goldenset_hashes[name] = gs.content_hash
                shown = str(yamlio.relative(gs.path, self.settings.rootpath))
                ops.append(functools.partial(insert_goldenset, run_id=self.run_id,
                                             record=records.goldenset_record(gs, shown, draft=name in self.drafts)))
        return ops

    def seen(self, key: tuple[str, ...]) -> bool:
        """Whether ``key`` was already registered (and mark it)."""
        if key in self._seen:
            return True
        self._seen.add(key)
        return False

    def _finalize(self, exitstatus: int) -> FinishedRun | None:
        store = self.store.existing()
        if store is None:
            return None
        if self.resume_ref is not None and not self.began:  # an xdist controller: its workers resolved it
            self.run_id = store.resolve_run(self.resume_ref).id
        lost = self.lost_writes
        try:
            bands, unread = setgates.set_bands(store, self.run_id, self.goldensets, self.settings.rootpath)
            self.warnings.extend(unread)
            if self.shard is not None:  # over all shards' cases, one family (``shards.compare_at_finish``)
                self.comparison, exitstatus = shards.compare_at_finish(store, self.run_id, self.settings.rootpath,
                                                                       exitstatus)
            return finalize(store, self.run_id, exitstatus, self.reports_dir, self.progress,
                            problems=[f"{lost} store write{'s' * (lost != 1)} lost"] if lost else [],
                            set_bands=bands, inconclusive=self.settings.inconclusive)
        except StoreError:
            raise
        except Exception as exc:  # a report bug must not turn a finished run into a crash
            raise StoreError(f"{type(exc).__name__}: {exc}", where=store.where) from exc
