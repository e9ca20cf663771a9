"""The judge's part of the end-of-run summary, and the exit status of a failed judge.

A run whose share of errored rubric scores exceeds the limit (``judge:
max_error_share`` in goldband.yaml, ``--goldband-judge-max-errors``; default 0.1)
ends with exit status 3 and a ``JUDGE ERROR`` line: the judge or the harness
failed, which is not the same as the model regressing (exit status 1).
"""

from __future__ import annotations

from typing import Any

from goldband.judge.gate import JudgeHealth, health

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
