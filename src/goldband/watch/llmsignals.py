"""What one production LLM call shows without a judge: its checks, a refusal, an empty or cut-off output.

Pure functions over a ``TraceRecord``. The deterministic checks are the ones a
golden set runs (``goldband.checks``), applied to the production output with
the call's own input; a check that needs what production does not have (a
``reference`` answer) comes out as an *error*, counted apart from passes and
failures, never as a pass. Judged checks (``rubric``) are left to the sampled
judge (``goldband.watch.llmeval``).

Refusal detection is a short list of English phrases models use to decline
(``REFUSAL``); it is a signal to watch for change, not a classifier, and the
docs say so (docs/llm-monitoring.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from goldband.checks import CheckContext, CheckSpec
from goldband.results import Completion, ToolCall, Trial
from goldband.watch.tracerecords import TraceRecord

__all__ = ["REFUSAL", "TraceSignals", "is_refusal", "signals"]

REFUSAL = re.compile(
    r"\b(i\s*(?:'m|am)\s+(?:sorry|afraid)[^.]{0,40}\b(?:can(?:no|')t|unable|not able)"
    r"|i\s+(?:can(?:no|')t|won'?t|am\s+unable\s+to|'m\s+unable\s+to)\s+(?:help|assist|provide|comply|do\s+that)"
    r"|as\s+an\s+ai\b|i\s+must\s+decline|i\s+(?:can(?:no|')t|won'?t)\s+(?:answer|share))",
    re.IGNORECASE)


@dataclass(frozen=True)
class TraceSignals:
    """One trace's deterministic findings."""

    checks_passed: int = 0
    checks_failed: int = 0
    check_errors: int = 0
    failed: tuple[str, ...] = ()  # the failed (or errored) checks, as each describes itself
    refusal: bool = False
    empty: bool = False  # no text and no tool call
    truncated: bool = False  # the provider stopped at the token limit
    errored: bool = False  # the call itself failed (provider error, timeout)
    details: dict[str, str] = field(default_factory=dict)  # check -> why it failed

    @property
    def passed(self) -> bool:
        """All checks passed (a call with an error, or a check that could not run, did not)."""
        return not (self.checks_failed or self.check_errors or self.errored)


def is_refusal(text: str | None) -> bool:
    """Whether ``text`` reads as the model declining.

    >>> is_refusal("I'm sorry, but I can't help with that."), is_refusal("Returns are free within 30 days.")
    (True, False)
    """
    return bool(text) and REFUSAL.search(text or "") is not None


def signals(record: TraceRecord, checks: Sequence[CheckSpec]) -> TraceSignals:
    """Run ``checks`` (none judged) on the record's output and read its refusal, empty and truncated flags."""
    passed = failed = errors = 0
    bad: list[str] = []
    details: dict[str, str] = {}
    ctx = _context(record)
    for check in checks if record.error is None else ():  # a failed call has no output to check
        score = check.run(ctx)
        if score.outcome == "pass":
            passed += 1
            continue
        failed += score.outcome == "fail"
        errors += score.outcome != "fail"
        bad.append(score.check)
        details[score.check] = score.detail
    text = (record.output or "").strip()
    return TraceSignals(passed, failed, errors, tuple(bad), is_refusal(text), not text and not record.tool_calls,
                        record.finish_reason == "length", record.error is not None, details)


def _context(record: TraceRecord) -> CheckContext:
    calls = tuple(ToolCall(str(c.get("name")), c.get("arguments") or {}) for c in record.tool_calls)
    completion = Completion(record.output, calls, record.input_tokens, record.output_tokens,
                            latency_ms=record.latency_ms, finish_reason=record.finish_reason)
    return CheckContext(Trial(record.trace_id, record.app, 0, completion), case_input=record.input)
