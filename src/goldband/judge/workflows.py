"""The judge outside a test run: calibration, the noise split and pairwise comparison.

Each workflow is an ``async`` function over a ``JudgeRuntime`` and an ``Engine``, so it
honours the run mode (replay reads the judge cassettes, live/cached use the judge
cache) exactly like the rubric check does. ``goldband.cli.judge`` drives them on
a session built from the project's ``goldband.yaml``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from goldband.engine.execute import run_case
from goldband.engine.plan import CasePlan, Services
from goldband.engine.scheduler import Engine
from goldband.judge import pairwise, prompt
from goldband.judge.calibrate import Judged, Row
from goldband.judge.noise import NoiseSplit, split
from goldband.judge.rubric import Rubric
from goldband.judge.runtime import JudgeRequest, JudgeRuntime, Subject
from goldband.judge.scoring import combine, weighted
from goldband.results import Trial


async def judge_rows(runtime: JudgeRuntime, engine: Engine, rubric: Rubric, rows: Sequence[Row]) -> list[Judged]:
    """Judge every calibration row as a run would (all samples, combined)."""
    return list(await asyncio.gather(*(_judge_row(runtime, engine, rubric, row) for row in rows)))


async def _judge_row(runtime: JudgeRuntime, engine: Engine, rubric: Rubric, row: Row) -> Judged:
    data = prompt.judge_data(rubric, row.output, row.input, row.reference)
    results = await runtime.judge(engine, rubric, data, Subject(row.id, "calibration"), range(rubric.samples))
    failed = [r for r in results if r.error is not None]
    if failed:
        return Judged(row, None, None, failed[0].error)
    combined = combine(rubric, [r.reply for r in results], rubric.pass_score)
    return Judged(row, combined.weighted, combined.passed)


@dataclass(frozen=True)
class CaseNoise:
    goldenset: str
    case: str
    target: str
    rubric: str
    split: NoiseSplit
    errors: int  # outputs left out: generation or judge errors


async def case_noise(runtime: JudgeRuntime, services: Services, plan: CasePlan, rubric: Rubric,
                     rejudge: int, *, done: Callable[[int], None] | None = None) -> CaseNoise:
    """Regenerate the plan's outputs (its runs), freeze them, judge each ``rejudge`` times.

    ``done(n)`` (for a progress bar) hears of outputs as they are finished with: judged ``rejudge`` times,
    or failed to generate; ``plan.runs.max`` in all.
    """
    tick = done or (lambda n: None)
    bare = replace(plan, case=replace(plan.case, checks=()))
    trials = (await run_case(services, bare)).trials
    tick(plan.runs.max - sum(1 for t in trials if t.trial.error is None))  # nothing to judge for these

    async def judged(trial: Trial) -> list[float] | None:
        row = await _rejudged(runtime, services.engine, rubric, plan, trial, rejudge)
        tick(1)
        return row

    rows = await asyncio.gather(*(judged(t.trial) for t in trials if t.trial.error is None))
    usable = [r for r in rows if r is not None]
    errors = len(trials) - len(usable)
    return CaseNoise(plan.goldenset, plan.case.id, plan.target.name, rubric.name, split(usable), errors)


async def _rejudged(runtime: JudgeRuntime, engine: Engine, rubric: Rubric, plan: CasePlan, trial: Trial,
                    rejudge: int) -> list[float] | None:
    data = prompt.judge_data(rubric, prompt.output_text(trial), plan.case.input, plan.case.reference)
    subject = Subject(plan.case.id, plan.target.name, plan.goldenset)
    results = await runtime.judge(engine, rubric, data, subject, range(rejudge))
    if any(r.error is not None for r in results):
        return None
    return [weighted(rubric, {c.name: float(c.score) for c in r.reply.criteria}) for r in results]


async def compare(runtime: JudgeRuntime, engine: Engine, rubric: Rubric, *, output_a: str, output_b: str,
                  case_input: Any = None, reference: str | None = None,
                  subject: Subject | None = None) -> pairwise.PairwiseResult:
    """Judge a against b twice, positions swapped; disagreement between orders is a tie."""
    shown = prompt.judge_data(rubric, output_a, case_input, reference)  # the input and reference, if shown
    orders = [(output_a, output_b), (output_b, output_a)]
    requests = [_pair_request(runtime, rubric, shown.input, shown.reference, first, second, order)
                for order, (first, second) in enumerate(orders)]
    who = subject or Subject("pairwise", "a-vs-b")
    samples = await asyncio.gather(*(runtime.obtain(engine, r, who) for r in requests))
    return pairwise.result_of([s[0] for s in samples])


def _pair_request(runtime: JudgeRuntime, rubric: Rubric, case_input: str | None, reference: str | None,
                  first: str, second: str, order: int) -> JudgeRequest:
    data = {"input": case_input, "reference": reference, "first": first, "second": second}
    return JudgeRequest(
        rubric=rubric, keys={order: pairwise.key(rubric.prompt_hash, runtime.judge_hash(rubric), data, order)},
        messages=lambda nonce: pairwise.messages(rubric, case_input, reference, first, second, nonce),
        validate=pairwise.validate, response_format=pairwise.response_format,
        record={"data": data, "mode": "pairwise"})


def fmt(value: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"
