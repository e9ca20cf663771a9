"""Wiring the judge into a run: the per-run runtime, and the checks made before any call.

``Harness.services()`` puts ``runtime_for(harness)`` into ``Services.extras['judge']``;
``Harness.preflight()`` calls ``preflight``, which turns what would otherwise become
an error score on every trial into one clear message up front: a case without the
reference its rubric grades against, a rubric without a judge model, a judge whose
API key variable is unset.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from goldband.config.project import JudgeConfig, ProjectConfig, load_config
from goldband.errors import ConfigError
from goldband.judge.gate import JudgeHealth, health
from goldband.judge.rubric import Rubric
from goldband.judge.runtime import JudgeRuntime, judge_hash, resolve_endpoint


def runtime_for(harness: Any, *, mode: str | None = None) -> JudgeRuntime:
    """The judge runtime of a harness's run (its config, mode, cassettes and cache).

    The judge cache lives in the run's store (``judge_cache``) when the run records to
    one, else in ``CACHE/judge.sqlite``."""
    root = harness.settings.rootpath
    config: ProjectConfig = harness.config
    return JudgeRuntime.create(config.judge, mode=mode or harness.mode, root=root, cassettes=root / config.cassettes,
                               cache_dir=root / config.cache, library=harness.library,
                               gate=harness.settings.judge_gate, store=harness.recorder.store_path)


def identity(rubric: Rubric, root: Path) -> dict[str, Any]:
    """What the store records about a rubric and the judge that scores with it."""
    endpoint = resolve_endpoint(_project_judge(root), rubric)
    return {"rubric_hash": rubric.content_hash, "name": rubric.name, "version": rubric.version,
            "body": rubric.body, "judge_hash": judge_hash(endpoint), "judge_model": endpoint.model,
            "judge_params": dict(endpoint.params)}


@functools.cache
def _project_judge(root: Path) -> JudgeConfig | None:
    return load_config(root)[0].judge


def rubrics_of(plans: Sequence[Any]) -> Iterator[tuple[Any, Rubric]]:
    """(plan, rubric) for every rubric check of every plan."""
    from goldband.judge.check import RubricCheck

    for plan in plans:
        for check in plan.case.checks:
            if isinstance(check, RubricCheck):
                yield plan, check.loaded(plan.base_dir)


def preflight(plans: Sequence[Any], config: ProjectConfig, mode: str, config_file: object = None) -> None:
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

DEFAULT_LIMIT = 0.1
JUDGE_ERROR_EXIT = 3  # pytest.ExitCode.INTERNAL_ERROR: the harness, not the tests, failed


def limit_of(harness: Any) -> float:
    option = harness.settings.judge_max_errors
    if option is not None:
        return float(option)
    judge = harness.config.judge
    return float(judge.max_error_share) if judge is not None else DEFAULT_LIMIT


def run_health(harness: Any) -> JudgeHealth | None:
    """The run's judge health, or None when no rubric scored anything."""
    result = health(harness.outcomes.values(), limit_of(harness))
    return result if result.scores else None


def exit_status(harness: Any, status: int) -> int:
    """3 when judge errors exceed the limit and the run would otherwise pass or fail; else ``status``."""
    result = run_health(harness)
    if result is not None and result.exceeded and int(status) in (0, 1):
        return JUDGE_ERROR_EXIT
    return int(status)


def terminal_lines(harness: Any) -> list[tuple[str, bool]]:
    """(line, is_alarm) pairs for the terminal summary; empty when the judge was not used."""
    result = run_health(harness)
    if result is None:
        return []
    lines = [(result.line() + _traffic(harness), False)]
    if result.exceeded:
        lines.append((result.alarm(), True))
        lines.extend((f"  {example}", False) for example in result.examples)
    return lines


def _traffic(harness: Any) -> str:
    from goldband.judge.runtime import JudgeRuntime

    runtime = JudgeRuntime.of(harness._services)
    if runtime is None:
        return ""
    stats = runtime.stats
    return (f" · {stats.calls} judge requests, {stats.live} judged live, {stats.cached} from the judge cache, "
            f"{stats.replayed} replayed")
