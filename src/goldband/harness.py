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

from goldband import lock, yamlio
from goldband.bands import Verdict
from goldband.cassettes import CassetteLibrary
from goldband.config import ProjectConfig, load_config
from goldband.engine import Engine
from goldband.errors import ConfigError
from goldband.goldenset import Case, GoldenSet
from goldband.goldenset import load as load_goldenset
from goldband.providers import client_kind
from goldband.runner import CasePlan, Services, run_case
from goldband.settings import Settings
from goldband.targets import Target, build_targets
from goldband.trial import ScoredTrial


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
    futures: dict[str, concurrent.futures.Future[list[ScoredTrial]]] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    _services: Services | None = None

    @classmethod
    def create(cls, settings: Settings) -> Harness:
        config, path = load_config(settings.rootpath)
        shown = yamlio.relative(path, settings.rootpath) if path else None
        harness = cls(settings, config, shown, build_targets(config, settings.rootpath, shown))
        harness._check_target_option()
        harness._warm_up()
        return harness

    def _warm_up(self) -> None:
        """Import the provider SDKs on a side thread while pytest collects (~0.7 s for
        openai, ~3.5 s for litellm), instead of after collection on the first call."""
        if self.mode == "replay" or self.settings.worker:
            return
        kinds = {client_kind(t.spec) for t in self.targets.values() if not t.is_callable}
        modules = ["openai"] if kinds else []
        if "litellm" in kinds:
            os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
            modules.append("litellm")
        if modules:
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
        return [self._plan(goldenset, case, self.targets[name])
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

    def _plan(self, goldenset: GoldenSet, case: Case, target: Target) -> CasePlan:
        runs = self.settings.runs or case.runs
        messages = None if target.is_callable else target.render(
            case.input, where=f"{case.where}: case '{case.id}'")
        spec = target.spec
        if self.settings.timeout_s:
            target = replace(target, spec=spec.model_copy(update={"timeout_s": self.settings.timeout_s}))
        return CasePlan(goldenset.name, case, target, runs, self.mode, messages,
                        self._cassette(goldenset, target), self.settings.rootpath)

    def _cassette(self, goldenset: GoldenSet, target: Target) -> Any:
        if target.is_callable or self.mode == "live":
            return None
        base = self.config.cache if self.mode == "cached" else self.config.cassettes
        return self.library.get(self.settings.rootpath / base / goldenset.name / f"{target.name}.jsonl")

    def preflight(self, plans: list[CasePlan]) -> None:
        """Before any call: every live target's API key variable must be set."""
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
        for nodeid, plan in items:
            self.submit(nodeid, plan)

    def submit(self, nodeid: str, plan: CasePlan) -> None:
        if nodeid in self.futures:
            return
        services = self.services()
        self.futures[nodeid] = services.engine.submit(run_case(services, plan))

    def services(self) -> Services:
        """The run's shared services, created with the engine at the first submission."""
        if self._services is None:
            self.engine = Engine(concurrency=self.concurrency)
            self._services = Services(self.engine)
        return self._services

    def wait(self, nodeid: str, plan: CasePlan) -> list[ScoredTrial]:
        if nodeid not in self.futures:  # an xdist worker, or an item started without a plan
            self.preflight([plan])
            self.submit(nodeid, plan)
        return self.futures.pop(nodeid).result()

    def finish_item(self, nodeid: str, outcome: Outcome) -> None:
        """One item's verdict is final (main thread): keep it for the summary and reports."""
        self.outcomes[nodeid] = outcome

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
        self.library.close()


def _import_quietly(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the real import, at the first call, reports the problem
            return
