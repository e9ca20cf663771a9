"""Run one case on one target: get its samples (per mode), then score them.

Modes decide where a sample comes from:

- ``live``: the provider; nothing written.
- ``record``: the provider; every sample written to the cassette.
- ``replay``: the cassette only; a missing sample is an ERROR trial naming
  the case, target and sample index (never a silent pass, never a live call).
- ``cached``: the local cache if it has the sample, else the provider (and
  the cache is filled).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
from typing import Any

from goldband.bands.verdict import next_batch
from goldband.checks.base import CheckContext, CheckSpec
from goldband.engine import conversation
from goldband.engine.plan import CasePlan, CaseRun, Services
from goldband.engine.providers import tool_call
from goldband.engine.scheduler import Engine, Sample
from goldband.engine.targets import load_callable
from goldband.errors import CheckError
from goldband.results import Completion, Score, ScoredTrial, ToolCall, Trial


async def run_case(services: Services, plan: CasePlan) -> CaseRun:
    """Run batches until the band needs no more trials (fixed N: one batch).

    Each batch is scheduled as soon as the previous one is scored, so extra
    trials for undecided cases overlap with everything else in flight.
    """
    trials = list(services.completed(plan)) if services.completed else []
    while (wanted := next_batch(trials, plan.case.band, plan.runs)) > 0:
        granted = services.budget.grant(wanted) if services.budget else wanted
        if granted == 0:
            return CaseRun(_ordered(trials), "the run's budget is spent")
        trials += await _batch(services, plan, _free_indices(trials, granted))
    return CaseRun(_ordered(trials))


async def _batch(services: Services, plan: CasePlan, indices: list[int]) -> list[ScoredTrial]:
    engine = services.engine
    trials = await (conversation.trials(engine, plan, indices) if plan.case.turns
                    else _callable_trials(engine, plan, indices) if plan.target.is_callable
                    else _model_trials(engine, plan, indices))
    scored = list(await asyncio.gather(*(score(services, plan, t) for t in trials)))
    if services.budget is not None:
        services.budget.spend(scored)
    if services.on_trials is not None and scored:
        services.on_trials(plan, scored)
    return scored


def _free_indices(trials: list[ScoredTrial], count: int) -> list[int]:
    used = {t.trial.sample for t in trials}
    free: list[int] = []
    index = 0
    while len(free) < count:
        if index not in used:
            free.append(index)
        index += 1
    return free


def _ordered(trials: list[ScoredTrial]) -> list[ScoredTrial]:
    return sorted(trials, key=lambda t: t.trial.sample)


async def score(services: Services, plan: CasePlan, trial: Trial) -> ScoredTrial:
    """Run every check on one trial; judged checks go to the judge, concurrently."""
    if trial.error is not None:
        return ScoredTrial(trial, ())
    ctx = CheckContext(trial, plan.case.input, plan.case.reference, plan.base_dir,
                       tools=tuple(plan.target.spec.params.get("tools") or ()))
    try:
        ctx = ctx.transformed(plan.case.transform)  # the case's output transform, before all its checks
    except CheckError as exc:
        return ScoredTrial(trial, tuple(Score(c.describe(), "error", 0.0, f"case {exc}") for c in plan.case.checks))
    results = await asyncio.gather(*(_grade(services, check, ctx) for check in plan.case.checks))
    grade = functools.partial(_grade, services)
    turns = await conversation.turn_scores(plan, trial, grade) if plan.case.turns else []
    return ScoredTrial(trial, (*turns, *(s for scores in results for s in scores)))


async def _grade(services: Services, check: CheckSpec, ctx: CheckContext) -> list[Score]:
    if not check.judged:
        if check.waits():  # e.g. embedding_similarity: off the event loop, in a worker thread
            return [await asyncio.to_thread(check.run, ctx)]
        return [check.run(ctx)]
    if services.judge is None:
        return [Score(check.describe(), "error", 0.0, "no judge in this run: a judged check needs a goldband run "
                      "with a judge (goldband.yaml 'judge:')", kind="rubric")]
    try:
        ctx = ctx.transformed(check.transform)  # a judged check's own transform (others apply theirs in run)
    except CheckError as exc:
        return [Score(check.describe(), "error", 0.0, str(exc), kind="rubric")]
    return await services.judge.grade(check, ctx, services.engine)


async def _model_trials(engine: Engine, plan: CasePlan, indices: list[int]) -> list[Trial]:
    found: dict[int, Trial] = {}
    if plan.mode in ("replay", "cached"):
        found = {i: t for i in indices if (t := _from_cassette(plan, i)) is not None}
    missing = [i for i in indices if i not in found]
    if missing and plan.mode == "replay":
        found.update({i: _miss(plan, i) for i in missing})
    elif missing:
        for sample in await engine.generate(plan.call, missing):
            found[sample.index] = _trial(plan, sample)
            _record(plan, sample)
    return [found[i] for i in indices]


def _from_cassette(plan: CasePlan, index: int) -> Trial | None:
    completion = plan.cassette.get(plan.key(index)) if plan.cassette else None
    if completion is None:
        return None
    return Trial(plan.case.id, plan.target.name, index, completion, cached=True, attempts=0)


def _miss(plan: CasePlan, index: int) -> Trial:
    path = plan.cassette.path if plan.cassette else "(no cassette)"
    changed = plan.cassette is not None and plan.cassette.near_miss(plan.case.id, index)
    why = ("a recording exists for this case and sample, but for a different request "
           "(the prompt, model or params changed since recording)" if changed
           else "nothing recorded for it")
    message = (f"replay: no cassette entry for case '{plan.case.id}', target '{plan.target.name}', "
               f"sample {index} in {path}: {why}; fix: record it with --goldband-mode record "
               f"(needs the provider), or run fewer samples with --goldband-runs")
    return Trial(plan.case.id, plan.target.name, index, None, error=message, error_kind="cassette_miss",
                 attempts=0)


def _trial(plan: CasePlan, sample: Sample) -> Trial:
    if sample.failure is not None:
        return Trial(plan.case.id, plan.target.name, sample.index, None, error=str(sample.failure),
                     error_kind=sample.failure.kind, attempts=sample.attempts)
    return Trial(plan.case.id, plan.target.name, sample.index, sample.completion, attempts=sample.attempts)


def _record(plan: CasePlan, sample: Sample) -> None:
    if plan.mode not in ("record", "cached") or plan.cassette is None or sample.completion is None:
        return
    spec = plan.target.spec
    plan.cassette.put(plan.key(sample.index), {
        "goldenset": plan.goldenset, "case": plan.case.id, "target": plan.target.name,
        "sample": sample.index, "model": spec.model, "params": spec.params, "messages": plan.messages,
    }, sample.completion)


async def _callable_trials(engine: Engine, plan: CasePlan, indices: list[int]) -> list[Trial]:
    func = load_callable(plan.target.spec.callable_ or "", plan.base_dir)
    return list(await asyncio.gather(*(engine.limited(_call_app(func, plan, i)) for i in indices)))


async def _call_app(func: Any, plan: CasePlan, index: int) -> Trial:
    """Call a whole app under test; its exceptions and timeouts are ERROR trials."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        async with asyncio.timeout(plan.target.spec.timeout_s):
            if inspect.iscoroutinefunction(func):
                value = await func(plan.case.input)
            else:
                value = await asyncio.to_thread(func, plan.case.input)
                if inspect.isawaitable(value):  # an object with an async __call__, a partial of a coroutine
                    value = await value
        completion = to_completion(value, (loop.time() - start) * 1000)
    except TimeoutError:
        return _app_error(plan, index, "timeout", f"no result within {plan.target.spec.timeout_s:g} s")
    except Exception as exc:
        return _app_error(plan, index, "callable", f"{type(exc).__name__}: {exc}")
    return Trial(plan.case.id, plan.target.name, index, completion)


def _app_error(plan: CasePlan, index: int, kind: str, message: str) -> Trial:
    return Trial(plan.case.id, plan.target.name, index, None, error=f"{kind}: {message}", error_kind=kind)


def to_completion(value: Any, latency_ms: float) -> Completion:
    """A callable may return text, a Completion, or a mapping with ``output`` and/or ``tool_calls`` (and
    ``cost_usd``, ``prompt_tokens``, ``completion_tokens``); the measured latency fills a missing one."""
    if isinstance(value, Completion):
        return value if value.latency_ms is not None else dataclasses.replace(value, latency_ms=latency_ms)
    if isinstance(value, str):
        return Completion(output=value, latency_ms=latency_ms)
    if isinstance(value, dict) and ("output" in value or "tool_calls" in value):
        if not isinstance(value.get("output"), str | None):
            raise TypeError(f"a callable target's 'output' must be text or None; got {type(value['output']).__name__}")
        calls = tuple(_app_tool_call(c) for c in value.get("tool_calls") or ())
        return Completion(output=value.get("output"), tool_calls=calls, latency_ms=latency_ms,
                          cost_usd=value.get("cost_usd"), prompt_tokens=value.get("prompt_tokens"),
                          completion_tokens=value.get("completion_tokens"))
    raise TypeError("a callable target must return text, a goldband.results.Completion, or a mapping with "
                    f"'output' and/or 'tool_calls'; got {type(value).__name__}")


def _app_tool_call(raw: Any) -> ToolCall:
    """A tool call returned by a callable target: a ToolCall, ``{"name", "arguments"}``, or OpenAI's
    ``{"type": "function", "function": {"name", "arguments"}}``; JSON text arguments are parsed as a
    provider's are (``providers.tool_call``)."""
    if isinstance(raw, ToolCall):
        return raw
    function = raw.get("function") if isinstance(raw, dict) else None
    spec = function if isinstance(function, dict) else raw
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise TypeError("a callable target's tool call must be a mapping with 'name' and 'arguments' (or OpenAI's "
                        f"{{'function': {{'name', 'arguments'}}}}); got {str(raw)[:80]}")
    return tool_call(spec["name"], spec.get("arguments", {}))
