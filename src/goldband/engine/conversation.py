"""Dynamic conversations: a case's user ``turns`` sent one after another, the model's own replies fed back.

A conversation case (``turns:`` in a golden set) runs as ONE trial per sample.
Turn k's request holds the target's opening messages (its system message, inline
messages or prompt, rendered with the case's ``input``; ``Target.opening``), every
earlier user turn and the model's own earlier replies as ``assistant`` messages,
then user turn k. So the five samples of a case are five independent
conversations, each following its own replies.

- Scoring: a turn's own ``checks`` score the reply to that turn (labelled
  ``turn K: ...``); the case's checks (and the golden set's default checks) score
  the *final* reply, as Inspect AI's scorers score the final state. The trial
  passes only if every check of every turn passes.
- Errors: a turn whose call fails (or, in replay, is not recorded) ends the
  conversation; the trial is an ERROR naming that turn (``turn 2 of 3: ...``),
  and the turns before it are kept.
- Cassettes: each turn is its own entry, keyed like any request by the whole
  message list, so turn k's key includes the earlier replies: re-recording an
  earlier turn (a new reply) changes every later key, and replay needs every turn.
- The trial: its completion is the final reply, with the conversation's total
  latency, tokens and cost; ``ConversationTrial.turns`` keeps each turn's messages
  and reply, which the store writes apart (``trial_turns``).

Tool calls in a reply are kept on its turn, but only the reply's text is fed back:
a conversation case sends no tool results.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from goldband.checks.base import CheckContext, CheckSpec
from goldband.engine.cassettes import request_key
from goldband.engine.plan import CasePlan
from goldband.engine.scheduler import Engine
from goldband.engine.targets import Target
from goldband.errors import CheckError, ConfigError
from goldband.golden.goldenset import Case
from goldband.results import Completion, ConversationTrial, Score, Trial, Turn

Grade = Callable[[CheckSpec, CheckContext], Awaitable[list[Score]]]


async def trials(engine: Engine, plan: CasePlan, indices: list[int]) -> list[Trial]:
    """One conversation per sample index, concurrently; a turn that cannot be rendered errors every one."""
    if plan.target.is_callable:
        return [_refused(plan, i, "a conversation case ('turns:') needs a model target, not a callable")
                for i in indices]
    try:
        users = render_turns(plan.case, plan.target)
    except ConfigError as exc:
        return [_refused(plan, i, str(exc)) for i in indices]
    return list(await asyncio.gather(*(converse(engine, plan, users, i) for i in indices)))


def render_turns(case: Case, target: Target) -> list[str]:
    """A case's user messages as the target renders them (its prompts folder, the case's input as variables);
    a ConfigError naming the case, the turn's line and ``turns[K]`` otherwise."""
    variables = case.input if isinstance(case.input, dict) else {}
    return [target.render_text(turn.user, variables, where=f"{case.file}:{turn.line or case.line}: case '{case.id}'",
                               source=f"turns[{k}]")
            for k, turn in enumerate(case.turns)]


def check(case: Case, target: Target) -> None:
    """At collection: a conversation case needs a model target, and every turn must render (ConfigError)."""
    if target.is_callable:
        raise ConfigError(f"a conversation case ('turns:') cannot run on callable target '{target.name}'",
                          where=f"{case.where}: case '{case.id}'",
                          expected="a model target (the turns are sent to the model, its replies fed back)",
                          fix="give the case 'targets:' naming model targets, or drop its 'turns:'")
    render_turns(case, target)


async def converse(engine: Engine, plan: CasePlan, users: list[str], index: int) -> ConversationTrial:
    """Sample ``index`` of the conversation: each user turn in order, the model's replies fed back."""
    messages = tuple(plan.messages or ())
    done: list[Turn] = []
    for k, text in enumerate(users, 1):
        messages = (*messages, {"role": "user", "content": text})
        turn = await _turn(engine, plan, messages, index, k, len(users))
        done.append(turn)
        if turn.completion is None:
            break
        messages = (*messages, {"role": "assistant", "content": turn.completion.output or ""})
    return _trial(plan, index, done, len(users))


async def _turn(engine: Engine, plan: CasePlan, messages: tuple[dict[str, Any], ...], index: int, k: int,
                of: int) -> Turn:
    """One turn's reply: from the cassette (replay, cached) or the provider (recorded in record and cached)."""
    spec = plan.target.spec
    key = request_key(spec.model or "", list(messages), spec.params, index)
    if plan.mode in ("replay", "cached") and plan.cassette is not None:
        found = plan.cassette.get(key)
        if found is not None:
            return Turn(k, messages, found, cached=True, attempts=0)
    if plan.mode == "replay":
        return Turn(k, messages, None, error=_miss(plan, index, k, of), error_kind="cassette_miss", attempts=0)
    [sample] = await engine.generate(dataclasses.replace(plan.call, messages=list(messages)), [index])
    if sample.completion is None:
        failure = sample.failure
        return Turn(k, messages, None, error=str(failure), error_kind=failure.kind if failure else "unknown",
                    attempts=sample.attempts)
    if plan.mode in ("record", "cached") and plan.cassette is not None:
        plan.cassette.put(key, {"goldenset": plan.goldenset, "case": plan.case.id, "target": plan.target.name,
                                "sample": index, "turn": k, "model": spec.model, "params": spec.params,
                                "messages": list(messages)}, sample.completion)
    return Turn(k, messages, sample.completion, attempts=sample.attempts)


def _miss(plan: CasePlan, index: int, k: int, of: int) -> str:
    path = plan.cassette.path if plan.cassette else "(no cassette)"
    changed = plan.cassette is not None and plan.cassette.near_miss(plan.case.id, index, k)
    why = ("a recording exists for this turn, but for a different request (the prompt, model, params, a turn's "
           "text or an earlier turn's recorded reply changed since recording)" if changed
           else "nothing recorded for this turn")
    return (f"replay: no cassette entry for case '{plan.case.id}', target '{plan.target.name}', sample {index}, "
            f"turn {k} of {of} in {path}: {why}; fix: record the conversation with --goldband-mode record "
            f"(needs the provider), or run fewer samples with --goldband-runs")


def _trial(plan: CasePlan, index: int, turns: list[Turn], of: int) -> ConversationTrial:
    """The conversation as one trial: the final reply with the totals, or an ERROR naming the failed turn."""
    last = turns[-1]
    error = None if last.completion is not None else f"turn {last.index} of {of}: {last.error}"
    completion = totals(last.completion, turns) if last.completion is not None else None
    tools = plan.target.spec.params.get("tools")
    return ConversationTrial(plan.case.id, plan.target.name, index, completion, error=error,
                             error_kind=last.error_kind if error else None, cached=all(t.cached for t in turns),
                             attempts=sum(t.attempts for t in turns), turns=tuple(turns),
                             tools=tuple(tools) if isinstance(tools, list | tuple) else None)


def totals(final: Completion, turns: list[Turn]) -> Completion:
    """The final reply with the whole conversation's latency, tokens and cost (None where no turn knows)."""
    done = [t.completion for t in turns if t.completion is not None]

    def total(name: str) -> Any:
        known = [v for c in done if (v := getattr(c, name)) is not None]
        return sum(known) if known else None

    return dataclasses.replace(final, latency_ms=total("latency_ms"), prompt_tokens=total("prompt_tokens"),
                               completion_tokens=total("completion_tokens"), cost_usd=total("cost_usd"))


def _refused(plan: CasePlan, index: int, message: str) -> Trial:
    return Trial(plan.case.id, plan.target.name, index, None, error=f"conversation: {message}",
                 error_kind="conversation", attempts=0)


async def turn_scores(plan: CasePlan, trial: Trial, grade: Grade) -> list[Score]:
    """Each turn's own checks on the reply to it (after the case's ``transform``, as the case's checks see the
    final reply), labelled ``turn K: ...`` with meta ``turn``, turn by turn."""
    turns = trial.turns if isinstance(trial, ConversationTrial) else ()
    graded = await asyncio.gather(*(_turn_scores(plan, trial, turn, grade) for turn in turns))
    return [s for scores in graded for s in scores]


async def _turn_scores(plan: CasePlan, trial: Trial, turn: Turn, grade: Grade) -> list[Score]:
    checks = plan.case.turns[turn.index - 1].checks
    if not checks:
        return []
    tools = plan.target.spec.params.get("tools") or ()
    ctx = CheckContext(turn.as_trial(trial), plan.case.input, plan.case.reference, plan.base_dir, tools=tuple(tools))
    try:
        ctx = ctx.transformed(plan.case.transform)
    except CheckError as exc:
        return [_labelled(Score(c.describe(), "error", 0.0, f"case {exc}"), turn.index) for c in checks]
    graded = await asyncio.gather(*(grade(check, ctx) for check in checks))
    return [_labelled(s, turn.index) for scores in graded for s in scores]


def _labelled(score: Score, k: int) -> Score:
    return dataclasses.replace(score, check=f"turn {k}: {score.check}", meta={**(score.meta or {}), "turn": k})
