"""The session: the composition root of one run (a pytest session, or ``goldband.run``).

It owns the run's one of everything: the project config and targets, the
planner (``goldband.session.planning``), the store (``StoreHandle``), the
engine and its ``Services`` (budget, judge, the recorder's callbacks), the run
recorder, and the outcomes. After the run's items are selected, ``start``
submits every item's trials to the engine at once; each item then waits only
for its own future and is settled (``settle``) into an ``Outcome``.

Created at the first golden set collected, so projects without golden sets
never import pydantic, jinja2 or the engine.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from goldband._util import yamlio
from goldband.bands import setgate
from goldband.bands.history import Point
from goldband.bands.setgate import SetGate
from goldband.compare.baseline import compare_run, load_baseline
from goldband.compare.cases import CaseStats, Comparison, Key
from goldband.config.project import ProjectConfig, read_config
from goldband.config.settings import Settings
from goldband.engine.budget import Budget, parse_budget
from goldband.engine.cassettes import CassetteLibrary
from goldband.engine.execute import run_case
from goldband.engine.plan import CasePlan, CaseRun, Outcome, Services
from goldband.engine.providers import client_kind, litellm_offline
from goldband.engine.scheduler import Engine
from goldband.engine.targets import Target, build_targets
from goldband.errors import ConfigError
from goldband.golden.goldenset import Case, GoldenSet
from goldband.judge.gate import JudgeHealth
from goldband.judge.runtime import JudgeRuntime
from goldband.report.comparison import terminal as comparison_text
from goldband.report.terminal import summary_lines
from goldband.results import ScoredTrial
from goldband.session import judging, setgates
from goldband.session.planning import Planner, band_option
from goldband.session.recorder import RunRecorder, resolve_path
from goldband.session.settle import settle
from goldband.session.storage import StoreHandle
from goldband.store import registry as registry_rows
from goldband.store.postgres import postgres_url

Item = tuple[str, CasePlan]  # (node id, plan)


@dataclass
class Session:
    settings: Settings
    config: ProjectConfig
    config_file: Path | None
    targets: dict[str, Target]
    store: StoreHandle
    library: CassetteLibrary = field(default_factory=CassetteLibrary)
    engine: Engine | None = None
    judge: JudgeRuntime | None = None
    futures: dict[str, concurrent.futures.Future[CaseRun]] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    baseline: tuple[dict[Key, CaseStats], str] | None = None  # --goldband-baseline, loaded at start
    comparison: Comparison | None = None
    planner: Planner = field(init=False)
    recorder: RunRecorder = field(init=False)
    _services: Services | None = None
    _budget: Budget | None = None
    _warming: threading.Thread | None = None
    _units: dict[str, list[Item]] = field(default_factory=dict)  # xdist worker: items sent together, by unit
    _unit_of: dict[str, str] = field(default_factory=dict)
    keep_outputs: bool = True  # False (pytest runs): settled outcomes keep no completions (see ``settle``)
    _set_gates: list[SetGate] = field(default_factory=list)  # a run without a store: gated from ``outcomes``

    def __post_init__(self) -> None:
        if self.settings.environment is None and self.config.environment is not None:  # goldband.yaml's
            self.settings = replace(self.settings, environment=self.config.environment)
        self.planner = Planner(self.settings, self.config, self.config_file, self.targets, self.mode, self.library,
                               history=self._history, band_option=band_option(self.settings))
        self.recorder = RunRecorder(self.settings, store=self.store, reports=self.config.reports, mode=self.mode)
        self.recorder.drafts = self.planner.drafts  # filled while collecting, read when the run is recorded
        self.recorder.goldensets = self.planner.goldensets  # their set bands gate the run at its finish

    @classmethod
    def create(cls, settings: Settings, *, keep_outputs: bool = True,
               library: CassetteLibrary | None = None) -> Session:
        """The session of a project (``settings.rootpath``); a bad config or option is a ConfigError.
        ``keep_outputs=False`` (pytest runs): see ``settle``. ``library``: cassettes shared with another
        session (a pre-merge check's two refs write one samples cache)."""
        config, path, lines = read_config(settings.rootpath)
        shown = yamlio.relative(path, settings.rootpath) if path else None
        store = StoreHandle(resolve_path(settings.store or config.store, settings.rootpath),
                            check=not settings.worker)  # the controller checked it for its workers
        try:
            targets = build_targets(config, settings.rootpath, shown, registered=_registered(store), lines=lines)
        except BaseException:  # a registry target read the store: close it (a PostgreSQL connection must not leak)
            store.close()
            raise
        session = cls(settings, config, shown, targets, store, library or CassetteLibrary(), keep_outputs=keep_outputs)
        session.planner.check_target_option()
        if not settings.controller:  # an xdist controller calls no provider and settles no verdict
            session._warm_up()
        return session

    @property
    def mode(self) -> str:
        return self.settings.mode or self.config.mode

    @property
    def concurrency(self) -> int:
        """Requests in flight; xdist workers share the run's, so ``-n`` never multiplies what a provider sees."""
        total = self.settings.concurrency or self.config.concurrency
        return max(1, -(-total // self.settings.workers)) if self.settings.worker else total

    @property
    def goldensets(self) -> dict[str, GoldenSet]:
        """The golden sets planned so far, by name."""
        return self.planner.goldensets

    # planning ------------------------------------------------------------------------------

    def load(self, path: Path) -> GoldenSet:
        return self.planner.load(path)

    def plans(self, goldenset: GoldenSet) -> list[CasePlan]:
        return self.planner.plans(goldenset)

    def plan_for(self, goldenset: GoldenSet, case: Case, target: Target) -> CasePlan:
        return self.planner.plan_for(goldenset, case, target)

    def _history(self, goldenset: str, case_id: str, target: str) -> Sequence[Point]:
        store = self.store.existing()
        return store.case_history(goldenset, case_id, target, limit=200) if store else []

    def _warm_up(self) -> None:
        """Import heavy modules on a side thread while pytest collects: the verdicts' numpy always, the
        clients when calls will be made (aiohttp for the lean client, ~0.7 s for the openai SDK, ~3.5 s for
        litellm); otherwise the first call or verdict would wait for them."""
        modules = []  # the clients first: the first call needs them before any verdict is settled
        kinds = {client_kind(t.spec) for t in self.targets.values() if not t.is_callable}
        if self.mode != "replay" and kinds:
            modules += ["aiohttp"] if "http" in kinds else []
            modules += ["openai"] if kinds - {"http"} else []  # litellm imports openai too
            if "litellm" in kinds:
                litellm_offline()  # the side thread imports litellm itself: it must not go online
                modules.append("litellm")
        modules += ["goldband.bands.decide", "goldband.bands.sprt"]
        missing = [m for m in modules if m not in sys.modules]
        if missing:
            self._warming = threading.Thread(target=_import_quietly, args=(missing,), name="goldband-warmup",
                                             daemon=True)
            self._warming.start()

    # running -------------------------------------------------------------------------------

    def preflight(self, plans: Sequence[CasePlan]) -> None:
        """Before any call: the targets' API keys, then what the judge needs."""
        self._preflight_targets(plans)
        judging.preflight(plans, self.config, self.mode, self.config_file)

    def _preflight_targets(self, plans: Sequence[CasePlan]) -> None:
        """Every live target's API key variable must be set."""
        if self.mode == "replay":
            return
        for plan in plans:
            env = plan.target.spec.api_key_env
            if env and not os.environ.get(env) and not plan.target.is_callable:
                raise ConfigError(
                    f"environment variable {env} is not set", where=f"target '{plan.target.name}' (api_key_env)",
                    expected=f"the API key in {env} for --goldband-mode {self.mode}",
                    fix=f"export {env}=..., or run offline with --goldband-mode replay",
                )

    def start(self, items: Sequence[Item]) -> None:
        """Submit all selected items' trials to the engine at once.

        A store that does not exist yet has nothing to check, so the trials start first and the store is
        created and the run recorded meanwhile (creating and migrating one costs about 0.7 s; the recorder
        queues the first trials until the run is recorded). An existing store is opened, checked for damage
        and the run recorded before any call, so a damaged store never costs one.
        """
        self.preflight([plan for _, plan in items])
        self.load_baseline()
        first = self._store_is_new()
        if not first:
            self.register(items)
        for nodeid, plan in items:
            self.submit(nodeid, plan)
        if first:
            self.register(items)

    def _store_is_new(self) -> bool:
        """The store will be created by this run (no file yet, not a resume) in a folder it can write."""
        path = self.store.path
        if path is None or postgres_url(str(path)) is not None or path.exists() or self.settings.resume \
                or self.settings.worker:  # a PostgreSQL database exists already: it is checked before any call
            return False
        folder = next((p for p in path.parents if p.exists()), None)
        return folder is not None and os.access(folder, os.W_OK | os.X_OK)

    def register(self, items: Sequence[Item]) -> None:
        """Record the selected items in the run (opens the store; StoreError, ConfigError)."""
        identities = judging.rubric_identities((p for _, p in items), self.config.judge)
        self.recorder.begin(list(items), self.goldensets, identities)

    def submit(self, nodeid: str, plan: CasePlan) -> None:
        if nodeid in self.futures:
            return
        services = self.services()
        self.futures[nodeid] = services.engine.submit(run_case(services, plan))

    def services(self) -> Services:
        """The run's shared services, created with the engine at the first submission."""
        if self._services is None:
            self.engine = Engine(concurrency=self.concurrency)
            self.judge = judging.runtime_for(self.config, root=self.settings.rootpath, mode=self.mode,
                                             library=self.library, gate=self.settings.judge_gate,
                                             store=self.store.open if self.store.enabled else None)
            self._services = Services(self.engine, budget=self.budget, judge=self.judge,
                                      on_trials=self.recorder.on_trials, completed=self.recorder.completed)
        return self._services

    @property
    def budget(self) -> Budget | None:
        """The run-wide budget (--goldband-budget); none in replay mode, where trials are free."""
        if self._budget is None and self.settings.budget and self.mode != "replay":
            self._budget = parse_budget(self.settings.budget)
        return self._budget

    def group(self, items: Sequence[Item], units: Mapping[str, str]) -> None:
        """An xdist worker's items by the unit xdist sends together (``goldband.plugin.xdist.units``)."""
        for nodeid, plan in items:
            self._units.setdefault(units.get(nodeid, nodeid), []).append((nodeid, plan))
            self._unit_of[nodeid] = units.get(nodeid, nodeid)

    def wait(self, nodeid: str, plan: CasePlan) -> CaseRun:
        """The item's trials, once the engine has them. On an xdist worker the first item of a unit starts
        the whole unit's trials at once (``group``): the rest of it is on its way to this worker."""
        if nodeid not in self.futures:
            unit = self._units.pop(self._unit_of.get(nodeid, nodeid), None) or [(nodeid, plan)]
            self.preflight([p for _, p in unit])
            self.register(unit)
            for item in unit:
                self.submit(*item)
        return self.futures.pop(nodeid).result()

    def settle(self, nodeid: str, plan: CasePlan) -> Outcome:
        """Wait for the item's trials, settle its verdict (``goldband.session.settle``) and keep it. The
        caller gets every trial (an item's failure report shows outputs); unless ``keep_outputs``, the
        session keeps them without their completions (``without_outputs``): the store has those, and
        the reports read them from there, so memory does not grow with every output of a long run."""
        run = self.wait(nodeid, plan)
        outcome = Outcome(plan, settle(plan, run), run.trials)
        self.outcomes[nodeid] = outcome if self.keep_outputs else without_outputs(outcome)
        self.recorder.finish_item(nodeid, plan, outcome.verdict, write=not self._compares_at_end)
        return outcome

    @property
    def _compares_at_end(self) -> bool:
        """This process compares its outcomes with a baseline at the end: each verdict is written then,
        once, with its baseline delta (xdist workers do not compare, so they write at once; nor does a shard:
        its run's finalizer compares all shards' cases, ``goldband.session.shards.compare_at_finish``)."""
        return bool(self.settings.baseline) and not self.settings.worker and self.settings.shard is None

    # the end of the run ----------------------------------------------------------------------

    def load_baseline(self) -> None:
        """Read --goldband-baseline before any call, so a bad one stops the run early."""
        if self.settings.baseline and self.baseline is None:
            self.baseline = load_baseline(self.settings.baseline, root=self.settings.rootpath, store=self.store,
                                          exclude_run=self.recorder.run_id, environment=self.settings.environment)

    def apply_baseline(self) -> None:
        """Compare this run's cases with --goldband-baseline; each verdict gets its delta and is written."""
        if self.baseline is None or not self.outcomes or not self._compares_at_end:
            return
        stats, label = self.baseline
        self.comparison, deltas = compare_run(self.outcomes.values(), stats, label, goldensets=self.goldensets,
                                              targets=set(self.targets), head_label=f"run {self.recorder.run_id}")
        for nodeid, outcome in self.outcomes.items():
            delta = deltas.get(outcome.key)
            if delta is not None:
                outcome = replace(outcome, verdict=replace(outcome.verdict, baseline=delta))
                self.outcomes[nodeid] = outcome
            self.recorder.write_verdict(nodeid, outcome.plan, outcome.verdict)

    def judge_health(self) -> JudgeHealth | None:
        """The run's share of errored rubric scores against its limit; None when no rubric scored."""
        limit = judging.error_limit(self.settings.judge_max_errors, self.config.judge)
        return judging.run_health(self.outcomes.values(), limit)

    def summary_lines(self, seconds: float, *, verbose: bool = False) -> list[tuple[str, bool | None]]:
        """The end-of-run summary as (text, kind) lines: kind None is a plain line, False a section
        header, True an alarm (verdict counts, traffic, budget, the judge, the baseline comparison,
        where the run was recorded)."""
        lines: list[tuple[str, bool | None]] = []
        if self.outcomes:
            engine = self.engine.stats if self.engine is not None else None
            headline, *rest = summary_lines(list(self.outcomes.values()), seconds, self.budget, engine)
            lines += [(headline, False), *((line, None) for line in rest)]
            stats = self.judge.stats if self.judge is not None else None
            lines += [(text, True if alarm else None) for text, alarm in
                      judging.terminal_lines(self.judge_health(), stats)]
        if self.comparison is not None:
            lines.append((comparison_text(self.comparison, verbose=verbose), None))
        lines += self._draft_lines()
        lines += setgates.terminal_lines(self.set_gates)
        lines += [(line, None) for line in self.recorder.summary_lines(with_counts=not self.outcomes)]
        return lines

    def _draft_lines(self) -> list[tuple[str, bool | None]]:
        """DRAFT, as an alarm, when a golden set changed under its version ran anyway (draft mode), with each
        set's warning (an xdist controller, which loads no golden set, names them from the store)."""
        finished = self.recorder.finished
        names = sorted({*self.planner.drafts, *(finished.drafts if finished else ())})
        if not names:
            return []
        said = [(d.message, None) for d in self.planner.drafts.values()]
        said += [(f"goldband: golden set '{n}' changed under its version (draft)", None)
                 for n in names if n not in self.planner.drafts]
        return [("DRAFT run: results are marked draft (never a baseline, a case's history or a series point)",
                 True), *said]

    def session_finished(self, exitstatus: int) -> int:
        """All items ran: compare with the baseline, settle the exit status, flush the store
        (the controller finishes the run and its reports). Returns the exit status:
        1 for a significant regression against the baseline or a set gate that fails the run
        (``set_gates``), 3 when judge errors exceed their limit or goldband failed the run (a write
        the store lost, reports not written)."""
        if not self.settings.worker:
            self.apply_baseline()
            if self.comparison is not None and self.comparison.regressions and exitstatus == 0:
                exitstatus = 1
        exitstatus = judging.exit_status(exitstatus, self.judge_health())
        self.recorder.session_finished(exitstatus)
        if not self.store.enabled and not self.settings.worker:  # no store to gate from: this session's verdicts
            self._set_gates = setgates.from_outcomes(self.outcomes.values(), self.goldensets,
                                                     self.settings.inconclusive)
        return self.recorder.exit_status(setgate.exit_status(exitstatus, self.set_gates))

    @property
    def set_gates(self) -> list[SetGate]:
        """The run's set gates (``goldband.session.setgates``), once the run is finished; none before."""
        finished = self.recorder.finished
        return list(finished.set_gates) if finished is not None else list(self._set_gates)

    def case_gates(self, plan: CasePlan) -> bool:
        """Whether the case's own verdict can fail it: not under a set gate with ``cases: report``, where the
        set alone gates (its cases keep their verdicts and count for it)."""
        goldenset = self.goldensets.get(plan.goldenset)
        band = goldenset.set_band if goldenset is not None else None
        return band is None or band.cases == "gate"

    def junit_reports(self) -> list[Any]:
        """The set gates as test reports for ``--junitxml`` (``setgates.junit_reports``); none before the finish."""
        gates, store = self.set_gates, self.store.existing()
        if store is not None:
            paths = setgates.recorded_paths(store, self.recorder.run_id)
        else:
            paths = {n: str(yamlio.relative(gs.path, self.settings.rootpath)) for n, gs in self.goldensets.items()}
        return setgates.junit_reports(gates, paths, self.recorder.run_id) if gates else []

    def close(self) -> None:
        """Stop the engine, release the judge, cassettes and store; wait for the warm-up imports to end
        (an import still running when the interpreter or a pytester run winds down leaves a half module)."""
        if self._warming is not None:
            self._warming.join(timeout=30)
        if self.engine is not None:
            self.engine.close()
        if self.judge is not None:
            self.judge.close()
        self.library.close()
        self.recorder.close()
        self.store.close()


def without_outputs(outcome: Outcome) -> Outcome:
    """The outcome as the end of a run reads it: each trial's scores, error, cache flag and sample (the
    counts, the baseline's scores, judge health, why a case did not pass), not its completion."""
    return replace(outcome, trials=[ScoredTrial(replace(t.trial, completion=None), t.scores)
                                    for t in outcome.trials])


def _registered(store: StoreHandle) -> Callable[[str], Mapping[str, Any] | None]:
    """Reads a ``registry: model@alias`` target's stored configuration from the session's store."""

    def read(ref: str) -> Mapping[str, Any] | None:
        found = store.existing()
        version = registry_rows.lookup(found.conn, ref) if found is not None else None
        return version.target if version is not None else None

    return read


def _import_quietly(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the real import, at the first call, reports the problem
            return
