"""The judge's part of a run: its runtime, the checks made before any call, and the end-of-run verdict on it.

Plain values in, plain values out: nothing here receives the session.

- ``runtime_for`` builds the run's ``JudgeRuntime`` (the engine sees it as its ``Judge``).
- ``preflight`` turns what would otherwise be an error score on every trial into one
  clear message up front: a case without the reference its rubric grades against, a
  rubric without a judge model, a judge whose API key variable is unset.
- ``rubric_identities``: the rubrics and judges a run's checks score with, for the store.
- A run whose share of errored rubric scores exceeds the limit (``judge:
  max_error_share`` in goldband.yaml, ``--goldband-judge-max-errors``; default 0.1)
  ends with exit status 3 and a ``JUDGE ERROR`` line (``exit_status``,
  ``terminal_lines``): the judge or the harness failed, which is not the same as the
  model regressing (exit status 1).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from goldband.config.project import JudgeConfig, ProjectConfig
from goldband.engine.cassettes import CassetteLibrary
from goldband.engine.plan import CasePlan, Outcome
from goldband.errors import ConfigError
from goldband.judge.check import RubricCheck
from goldband.judge.endpoint import resolve_endpoint
from goldband.judge.gate import JudgeHealth, health
from goldband.judge.rubric import Rubric
from goldband.judge.runtime import JudgeRuntime, JudgeStats
from goldband.store import Store

DEFAULT_LIMIT = 0.1
JUDGE_ERROR_EXIT = 3  # pytest.ExitCode.INTERNAL_ERROR: the harness, not the tests, failed


def runtime_for(config: ProjectConfig, *, root: Path, mode: str, library: CassetteLibrary, gate: str | None = None,
                store: Callable[[], Store] | None = None) -> JudgeRuntime:
    """The judge runtime of a run on the project at ``root`` (its judge config, cassettes and cache).

    The judge cache lives in the run's store (``judge_cache``) when ``store`` opens
    one, else in ``CACHE/judge.sqlite``."""
    return JudgeRuntime.create(config.judge, mode=mode, root=root, cassettes=root / config.cassettes,
                               cache_dir=root / config.cache, library=library, gate=gate, store=store)


def rubrics_of(plans: Iterable[CasePlan]) -> Iterator[tuple[CasePlan, Rubric]]:
    """(plan, rubric) for every rubric check of every plan."""
    for plan in plans:
        for check in plan.case.checks:
            if isinstance(check, RubricCheck):
                yield plan, check.loaded(plan.base_dir)


def rubric_identities(plans: Iterable[CasePlan], judge: JudgeConfig | None) -> list[dict[str, Any]]:
    """The rubrics and judge configs these plans' checks score with, once each, labelled by check.

    Each is the keyword arguments of ``goldband.store.writer.insert_rubric`` plus ``label``."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for plan in plans:
        for check in plan.case.checks:
            if isinstance(check, RubricCheck):
                data = check.store_identity(judge)
                found[(data["rubric_hash"], data["judge_hash"])] = data | {"label": check.describe()}
    return list(found.values())


def preflight(plans: Sequence[CasePlan], config: ProjectConfig, mode: str, config_file: object = None) -> None:
    """Raise ConfigError for a judge problem that would fail every judged trial."""
    seen: set[str] = set()
    for plan, rubric in rubrics_of(plans):
        if rubric.show_reference and plan.case.reference is None:
            raise ConfigError(f"rubric '{rubric.name}' grades against the reference, but the case has none",
                              where=f"{plan.case.where}: case '{plan.case.id}'",
                              expected="a 'reference:' answer for cases checked by this rubric",
                              fix=f"add 'reference:' to the case, or set 'show: {{reference: false}}' in "
                                  f"{rubric.path}")
        if rubric.name not in seen:
            seen.add(rubric.name)
            check_endpoint(rubric, config, mode, config_file or "goldband.yaml")


def check_endpoint(rubric: Rubric, config: ProjectConfig, mode: str, config_file: object) -> None:
    endpoint = resolve_endpoint(config.judge, rubric)
    if not endpoint.model:
        raise ConfigError(f"rubric '{rubric.name}' has no judge model", where=f"{config_file} (judge)",
                          expected="a judge model, e.g. 'judge: {model: openai/gpt-4o}'",
                          fix=f"add 'judge:' with a model to {config_file}, or a 'judge:' override to {rubric.path}")
    env = endpoint.api_key_env
    if mode != "replay" and env and not os.environ.get(env):
        raise ConfigError(f"environment variable {env} is not set", where=f"judge of rubric '{rubric.name}' "
                          "(api_key_env)", expected=f"the judge's API key in {env} for --goldband-mode {mode}",
                          fix=f"export {env}=..., or run offline with --goldband-mode replay")


# --------------------------------------------------------------------------- the end of a run


def error_limit(option: float | None, judge: JudgeConfig | None) -> float:
    """The largest share of errored rubric scores: the option, else goldband.yaml's, else 0.1."""
    if option is not None:
        return float(option)
    return float(judge.max_error_share) if judge is not None else DEFAULT_LIMIT


def run_health(outcomes: Iterable[Outcome], limit: float) -> JudgeHealth | None:
    """The run's judge health, or None when no rubric scored anything."""
    result = health(outcomes, limit)
    return result if result.scores else None


def exit_status(status: int, judge_health: JudgeHealth | None) -> int:
    """3 when judge errors exceed the limit and the run would otherwise pass or fail; else ``status``."""
    if judge_health is not None and judge_health.exceeded and int(status) in (0, 1):
        return JUDGE_ERROR_EXIT
    return int(status)


def terminal_lines(judge_health: JudgeHealth | None, stats: JudgeStats | None) -> list[tuple[str, bool]]:
    """(line, is_alarm) pairs for the terminal summary; empty when the judge was not used."""
    if judge_health is None:
        return []
    lines = [(judge_health.line() + _traffic(stats), False)]
    if judge_health.exceeded:
        lines.append((judge_health.alarm(), True))
        lines.extend((f"  {example}", False) for example in judge_health.examples)
    return lines


def _traffic(stats: JudgeStats | None) -> str:
    if stats is None:
        return ""
    return (f" · {stats.calls} judge requests, {stats.live} judged live, {stats.cached} from the judge cache, "
            f"{stats.replayed} replayed")
