"""``goldband.run``: run golden sets from Python, exactly as the pytest plugin does, and get the outcomes.

::

    import goldband

    result = goldband.run("goldensets/support.yaml", mode="replay")
    for outcome in result.outcomes:
        print(outcome.key, outcome.verdict.status, outcome.verdict.pass_rate)
    assert result.passed

The same session, engine, judge, store and reports as ``pytest`` (trials of all
cases run concurrently; each case is settled by the one verdict rule,
``goldband.session.settle``). By default nothing is recorded: ``store`` and
``report`` are ``"off"`` unless given (a path, or ``None`` for the project's
configured ones).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from goldband._util import yamlio
from goldband.bands.verdict import fails_item
from goldband.compare.cases import Comparison
from goldband.config.settings import Settings
from goldband.engine.plan import CasePlan, Outcome
from goldband.engine.scheduler import EngineStats
from goldband.errors import ConfigError
from goldband.session.session import Session

Paths = str | Path | Sequence[str | Path]


@dataclass(frozen=True)
class RunResult:
    """What ``goldband.run`` returns: one outcome per (case, target), in golden-set order."""

    outcomes: list[Outcome]
    exit_status: int  # what pytest would exit with: 0 all passed, 1 a case failed or regressed, 3 judge errors
    run_id: str | None  # the run's id in the store, when it was recorded
    comparison: Comparison | None  # against ``baseline``, when one was given
    engine: EngineStats | None  # provider traffic (None when nothing was called)
    seconds: float

    @property
    def passed(self) -> bool:
        """True when no outcome fails its item and nothing regressed (the run would exit 0)."""
        return self.exit_status == 0

    def outcome(self, case_id: str, target: str | None = None) -> Outcome:
        """The outcome of one case (on ``target`` when the case ran on several)."""
        found = [o for o in self.outcomes if o.plan.case.id == case_id and target in (None, o.plan.target.name)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} outcomes for case {case_id!r}" + (f" on {target!r}" if target else ""))
        return found[0]


def run(paths: Paths | None = None, *, root: str | Path = ".", targets: Sequence[str] | None = None,
        mode: str | None = None, runs: int | None = None, concurrency: int | None = None,
        store: str | None = "off", report: str | None = "off", kind: str | None = None,
        baseline: str | None = None, budget: str | None = None) -> RunResult:
    """Run golden sets (files or directories; default ``ROOT/goldensets``) and settle every case.

    Options mean what their ``--goldband-*`` namesakes mean. A bad golden set, target
    or option raises ``goldband.ConfigError`` before any call; provider and judge
    failures are ERROR outcomes, never exceptions.
    """
    rootpath = Path(root).resolve()
    settings = Settings(rootpath=rootpath, paths=(str(rootpath / "goldensets"),), runs=runs,
                        targets=tuple(targets) if targets else None, mode=mode, concurrency=concurrency,
                        timeout_s=None, worker=False, budget=budget, baseline=baseline, store=store, report=report,
                        kind=kind, command=shlex.join(["goldband.run", *map(str, _files(paths, rootpath))]))
    started = time.perf_counter()
    session = Session.create(settings)
    try:
        return _run(session, _files(paths, rootpath), started)
    finally:
        session.close()


def _run(session: Session, files: list[Path], started: float) -> RunResult:
    items = [item for path in files for item in _items(session, path)]
    if not items:
        shown = ", ".join(map(str, files)) or "no golden set files"
        raise ConfigError("no golden set cases to run", where=f"goldband.run({shown})",
                          expected="golden set files with cases for the configured targets",
                          fix="add cases, or check paths=, targets= and the golden sets' 'targets:'")
    session.start(items)
    failed = False
    for nodeid, plan in items:
        outcome = session.settle(nodeid, plan)
        failed |= session.case_gates(plan) and fails_item(outcome.verdict, plan.case.band.inconclusive)
    status = session.session_finished(1 if failed else 0)
    finished = session.recorder.finished
    return RunResult(list(session.outcomes.values()), status, finished.id if finished else None,
                     session.comparison, session.engine.stats if session.engine else None,
                     time.perf_counter() - started)


def _items(session: Session, path: Path) -> list[tuple[str, CasePlan]]:
    """(node id, plan) per item of one golden set; ids as pytest names them (``FILE::SET::CASE[TARGET]``),
    so runs from Python and from pytest read alike in the store."""
    goldenset = session.load(path)
    shown = yamlio.relative(path, session.settings.rootpath).as_posix()
    return [(f"{shown}::{goldenset.name}::{plan.case.id}[{plan.target.name}]", plan)
            for plan in session.plans(goldenset)]


def _files(paths: Paths | None, root: Path) -> list[Path]:
    """Golden set files: each path as given, or every ``*.yaml``/``*.yml`` below a directory."""
    given = [root / "goldensets"] if paths is None else [paths] if isinstance(paths, str | Path) else list(paths)
    files: list[Path] = []
    for entry in given:
        path = Path(entry) if Path(entry).is_absolute() else root / entry
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError(f"no golden set at {entry}", where="goldband.run(paths=...)",
                              expected="a golden set file (.yaml) or a directory of them",
                              fix="give a path relative to root, or an absolute one")
    return files
