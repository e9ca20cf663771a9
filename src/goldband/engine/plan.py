"""The plan of one item (case x target), fixed at collection time, and what running it may use.

``CasePlan`` is the run's central type: the plugin's items carry one, the engine
executes it (``goldband.engine.execute``), the session settles it into an
``Outcome`` (``goldband.session.settle``) and the recorder stores it.
``Services`` are the run-wide parts a plan runs with: the scheduler, the budget,
the judge (seen only through the ``Judge`` protocol) and the store's callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from goldband.bands.spec import Runs
from goldband.checks.base import CheckContext, CheckSpec
from goldband.engine.budget import Budget
from goldband.engine.cassettes import Cassette, request_key
from goldband.engine.providers import Call
from goldband.engine.scheduler import Engine
from goldband.engine.targets import Target
from goldband.golden.goldenset import Case
from goldband.results import Score, ScoredTrial, Verdict


@dataclass(frozen=True)
class CasePlan:
    """Everything needed to run one item, fixed at collection time."""

    goldenset: str
    case: Case
    target: Target
    runs: Runs
    mode: str
    messages: list[dict[str, Any]] | None  # None for callable targets
    cassette: Cassette | None  # the cassette (record/replay) or cache file (cached)
    base_dir: Path
    quarantine: str | None = None  # set from history: the verdict is shown, never gating
    notes: tuple[str, ...] = ()  # e.g. how the band was learned from history

    @property
    def call(self) -> Call:
        spec = self.target.spec
        return Call(model=spec.model or "", messages=self.messages or [], params=spec.params, endpoint=spec,
                    target=self.target.name)

    def key(self, sample: int) -> str:
        return request_key(self.target.spec.model or "", self.messages or [], self.target.spec.params, sample)


class Judge(Protocol):
    """The LLM judge as the engine sees it: it grades one judged check (``CheckSpec.judged``) on one trial.

    ``goldband.judge.runtime.JudgeRuntime`` implements it; the engine never imports
    the judge. Every failure is an *error* score with its evidence, never an exception.
    """

    async def grade(self, check: CheckSpec, ctx: CheckContext, engine: Engine) -> list[Score]: ...


@dataclass
class Services:
    """What running a case may use beyond its plan: shared by every case of a run.

    ``judge`` grades the judged checks (none: they score *error*). ``on_trials`` is
    called (on the engine's loop) with each batch of scored trials as soon as it
    exists, so a store can write them before the run ends. ``completed`` returns
    trials a resumed run already has, so they are not rerun.
    """

    engine: Engine
    budget: Budget | None = None
    judge: Judge | None = None
    on_trials: Callable[[CasePlan, list[ScoredTrial]], None] | None = None
    completed: Callable[[CasePlan], list[ScoredTrial]] | None = None  # kept from a resumed run


@dataclass(frozen=True)
class CaseRun:
    """One item's trials, and why it stopped early if it did (e.g. the budget)."""

    trials: list[ScoredTrial]
    stopped: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one item ended with: its plan, its settled verdict and its trials."""

    plan: CasePlan
    verdict: Verdict
    trials: list[ScoredTrial]

    @property
    def key(self) -> tuple[str, str, str]:
        """(golden set, case id, target): the case as the unit of comparison."""
        return (self.plan.goldenset, self.plan.case.id, self.plan.target.name)


