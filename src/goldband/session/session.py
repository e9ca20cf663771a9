"""The per-session state behind the plugin: config, targets, plans, engine, results.

Created at the first golden set collected, so projects without golden sets
never import pydantic, jinja2 or the engine. After pytest has selected its
items, ``start`` submits every selected item's trials to the engine at once;
each item then waits only for its own future.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from goldband._util import yamlio
from goldband.bands import spec as bandconfig
from goldband.bands.history import Learned, learn
from goldband.bands.spec import BandSpec
from goldband.compare.cases import CaseStats, Comparison, Key
from goldband.config.base import parse
from goldband.config.project import ProjectConfig, load_config
from goldband.config.settings import Settings
from goldband.engine.budget import Budget, parse_budget
from goldband.engine.cassettes import CassetteLibrary
from goldband.engine.execute import run_case
from goldband.engine.plan import CasePlan, CaseRun, Services
from goldband.engine.providers import client_kind, litellm_offline
from goldband.engine.scheduler import Engine
from goldband.engine.targets import Target, build_targets
from goldband.errors import ConfigError
from goldband.golden import lock
from goldband.golden.goldenset import Case, GoldenSet
from goldband.golden.goldenset import load as load_goldenset
from goldband.results import ScoredTrial, Verdict
from goldband.session.recorder import RunRecorder


@dataclass
class Outcome:
    """What one item ended with, for the summary and the reports."""

    plan: CasePlan
    verdict: Verdict
    trials: list[ScoredTrial]


@dataclass
class Harness:
    settings: Settings
    config: ProjectConfig
    config_file: Path | None
    targets: dict[str, Target]
    library: CassetteLibrary = field(default_factory=CassetteLibrary)
    engine: Engine | None = None
    futures: dict[str, concurrent.futures.Future[CaseRun]] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    _services: Services | None = None
    band_option: BandSpec | None = None
    _budget: Budget | None = None
    goldensets: dict[str, GoldenSet] = field(default_factory=dict)  # by name, as collected
    baseline: tuple[dict[Key, CaseStats], str] | None = None  # --goldband-baseline, loaded at start
    comparison: Comparison | None = None
    _history: Any = None  # the store opened read-only for history bands
    recorder: RunRecorder = field(init=False)

    def __post_init__(self) -> None:
        self.recorder = RunRecorder(self.settings, store=self.config.store, reports=self.config.reports,
                                    mode=self.mode)

    @classmethod
    def create(cls, settings: Settings) -> Harness:
        config, path = load_config(settings.rootpath)
        shown = yamlio.relative(path, settings.rootpath) if path else None
        harness = cls(settings, config, shown, build_targets(config, settings.rootpath, shown))
        harness._check_target_option()
        harness.band_option = _band_option(settings)
        harness._warm_up()
        return harness

    def _warm_up(self) -> None:
        """Import heavy modules on a side thread while pytest collects: the statistics
        (scipy, ~1.3 s) always, the provider SDKs (~0.7 s for openai, ~3.5 s for litellm)
        when calls will be made; otherwise the first call or verdict would wait for them."""
        modules = []  # the SDKs first: the first call needs them before any verdict needs scipy
        kinds = {client_kind(t.spec) for t in self.targets.values() if not t.is_callable}
        if self.mode != "replay" and kinds:
            modules.append("openai")
            if "litellm" in kinds:
                litellm_offline()  # the side thread imports litellm itself: it must not go online
                modules.append("litellm")
        modules += ["goldband.bands.decide", "goldband.bands.sprt"]
        threading.Thread(target=_import_quietly, args=(modules,), name="goldband-warmup", daemon=True).start()

    @property
    def mode(self) -> str:
        return self.settings.mode or self.config.mode

    @property
    def concurrency(self) -> int:
        return self.settings.concurrency or self.config.concurrency

    def _check_target_option(self) -> None:
        for name in self.settings.targets or ():
            if name not in self.targets:
                raise ConfigError(
                    f"unknown target '{name}'", where="--goldband-target",
                    expected=f"one of: {', '.join(sorted(self.targets)) or '(none configured)'}",
                    fix=f"declare it under 'targets:' in {self.config_file or 'goldband.yaml'}",
                )

    def load(self, path: Path) -> GoldenSet:
        goldenset = load_goldenset(path, base_dir=self.settings.rootpath)
        lock.check_and_record(path, goldenset.name, goldenset.version, goldenset.content_hash,
                              goldenset.version_line, yamlio.relative(path, self.settings.rootpath))
        return goldenset

    def plans(self, goldenset: GoldenSet) -> list[CasePlan]:
        """One plan per (case, target) the run should cover; template errors raise here."""
        names = self._target_names(goldenset)
        self.goldensets[goldenset.name] = goldenset
        return [self.plan_for(goldenset, case, self.targets[name])
                for case in goldenset.cases for name in names
                if case.targets is None or name in case.targets]

    def _target_names(self, goldenset: GoldenSet) -> list[str]:
        names = list(goldenset.targets) if goldenset.targets is not None else list(self.targets)
        for name in names:
            if name not in self.targets:
                shown = yamlio.relative(goldenset.path, self.settings.rootpath)
                where = f"{shown}:{goldenset.targets_line}" if goldenset.targets_line else str(shown)
                raise ConfigError(
                    f"golden set '{goldenset.name}' names unknown target '{name}'", where=where,
                    expected=f"one of: {', '.join(sorted(self.targets)) or '(none configured)'}",
                    fix=f"declare it under 'targets:' in {self.config_file or 'goldband.yaml'}, or fix the name",
                )
        if not names:
            raise ConfigError("no targets to run", where=str(goldenset.path),
                              fix="declare targets in goldband.yaml (see README.md, Configuration)")
        chosen = self.settings.targets
        return [n for n in names if chosen is None or n in chosen]

    def plan_for(self, goldenset: GoldenSet, case: Case, target: Target) -> CasePlan:
        """One item's plan; public so a pre-merge check can pair a golden set with another ref's target."""
        case, learned = self._with_history(goldenset, self._with_options(case), target)
        messages = None if target.is_callable else target.render(
            case.input, where=f"{case.where}: case '{case.id}'")
        spec = target.spec
        if self.settings.timeout_s:
            target = replace(target, spec=spec.model_copy(update={"timeout_s": self.settings.timeout_s}))
        return CasePlan(goldenset.name, case, target, case.runs, self.mode, messages,
                        self._cassette(goldenset, target), self.settings.rootpath,
                        quarantine=learned.quarantine if learned else None, notes=learned.notes if learned else ())

    def _with_history(self, goldenset: GoldenSet, case: Case, target: Target) -> tuple[Case, Learned | None]:
        """band.history / band.quarantine: learn from the case's past runs on this target."""
        if case.band.history is None and case.band.quarantine is None:
            return case, None
        store = self._history_store()
        points = store.case_history(goldenset.name, case.id, target.name, limit=200) if store else []
        learned = learn(case.band, points)
        return replace(case, band=learned.band), learned

    def _history_store(self) -> Any:
        """The store, read-only, for history bands; None when there is none yet."""
        if self._history is None:
            path = self.recorder.store_path
            if path is None or not path.exists():
                return None
            from goldband.store import open_store

            self._history = open_store(path, create=False)
        return self._history

    def _with_options(self, case: Case) -> Case:
        """Apply --goldband-band, --goldband-inconclusive and --goldband-runs to one case."""
        band = bandconfig.override(case.band, self.band_option)
        runs = case.runs
        if self.settings.runs:
            runs = bandconfig.resolve_runs(self.settings.runs, None, None, band.inconclusive)
        elif band.inconclusive == "more" and runs.fixed:
            runs = bandconfig.resolve_runs(runs.min, None, None, "more")
        return replace(case, band=band, runs=runs)

    def _cassette(self, goldenset: GoldenSet, target: Target) -> Any:
        if target.is_callable or self.mode == "live":
            return None
        base = self.config.cache if self.mode == "cached" else self.config.cassettes
        return self.library.get(self.settings.rootpath / base / goldenset.name / f"{target.name}.jsonl")

    def preflight(self, plans: list[CasePlan]) -> None:
        """Before any call: the targets' API keys, then what the judge needs (goldband.session.judging)."""
        from goldband.session.judging import preflight as judge_preflight

        self._preflight_targets(plans)
        judge_preflight(plans, self.config, self.mode, self.config_file)

    def _preflight_targets(self, plans: list[CasePlan]) -> None:
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

    def start(self, items: list[tuple[str, CasePlan]]) -> None:
        """Submit all selected items' trials to the engine at once."""
        plans = [plan for _, plan in items]
        self.preflight(plans)
        self.load_baseline()
        self.register(items)
        for nodeid, plan in items:
            self.submit(nodeid, plan)

    def register(self, items: list[tuple[str, CasePlan]]) -> None:
        """Record the selected items in the run (opens the store; StoreError, ConfigError)."""
        self.recorder.begin(items, self.goldensets)

    def submit(self, nodeid: str, plan: CasePlan) -> None:
        if nodeid in self.futures:
            return
        services = self.services()
        self.futures[nodeid] = services.engine.submit(run_case(services, plan))

    def services(self) -> Services:
        """The run's shared services, created with the engine at the first submission."""
        if self._services is None:
            self.engine = Engine(concurrency=self.concurrency)
            self._services = Services(self.engine, budget=self.budget, on_trials=self.recorder.on_trials,
                                      completed=self.recorder.completed)
            from goldband.session.judging import runtime_for

            self._services.extras["judge"] = runtime_for(self)
        return self._services

    @property
    def budget(self) -> Budget | None:
        """The run-wide budget (--goldband-budget); none in replay mode, where trials are free."""
        if self._budget is None and self.settings.budget and self.mode != "replay":
            self._budget = parse_budget(self.settings.budget)
        return self._budget

    def wait(self, nodeid: str, plan: CasePlan) -> CaseRun:
        if nodeid not in self.futures:  # an xdist worker, or an item started without a plan
            self.preflight([plan])
            self.register([(nodeid, plan)])
            self.submit(nodeid, plan)
        return self.futures.pop(nodeid).result()

    def finish_item(self, nodeid: str, outcome: Outcome) -> None:
        """One item's verdict is final (main thread): keep it for the summary and reports."""
        self.outcomes[nodeid] = outcome
        self.recorder.finish_item(nodeid, outcome.plan, outcome.verdict)

    def load_baseline(self) -> None:
        """Read --goldband-baseline before any call, so a bad one stops the run early."""
        if self.settings.baseline and self.baseline is None:
            from goldband.compare.baseline import load_baseline

            self.baseline = load_baseline(self.settings.baseline, root=self.settings.rootpath,
                                          store_path=self.recorder.store_path, exclude_run=self.recorder.run_id)

    def apply_baseline(self) -> None:
        """Compare this run's cases with --goldband-baseline; each verdict gets its delta,
        and the store its updated verdict."""
        if self.baseline is None or not self.outcomes:
            return
        from goldband.compare.baseline import compare_run

        stats, label = self.baseline
        self.comparison = compare_run(self.outcomes, stats, label, goldensets=self.goldensets,
                                      targets=set(self.targets), head_label=f"run {self.recorder.run_id}")
        for nodeid, outcome in self.outcomes.items():
            self.recorder.finish_item(nodeid, outcome.plan, outcome.verdict)

    def session_finished(self, exitstatus: int) -> int:
        """All items ran: compare with the baseline, settle the exit status, flush the store
        (the controller finishes the run and its reports). Returns the exit status:
        1 for a significant regression against the baseline, 3 when judge errors exceed their limit."""
        if not self.settings.worker:
            self.apply_baseline()
            if self.comparison is not None and self.comparison.regressions and exitstatus == 0:
                exitstatus = 1
        from goldband.session.judging import exit_status

        exitstatus = exit_status(self, exitstatus)
        self.recorder.session_finished(exitstatus)
        return exitstatus

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
        if self._services is not None and "judge" in self._services.extras:
            self._services.extras["judge"].close()
        self.library.close()
        self.recorder.close()
        if self._history is not None:
            self._history.close()


def _import_quietly(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the real import, at the first call, reports the problem
            return


def _band_option(settings: Settings) -> BandSpec | None:
    """--goldband-band and --goldband-inconclusive, validated like a golden set's band."""
    raw = dict(settings.band or {})
    if settings.inconclusive:
        raw["inconclusive"] = settings.inconclusive
    if not raw:
        return None
    spec: BandSpec = parse(BandSpec, raw, yamlio.Lines(Path("--goldband-band")))
    return spec
