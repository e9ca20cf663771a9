r"""Why a case did not pass, in the words a reviewer reads: which check failed, and what the model said.

A verdict's ``reason`` gives the statistics (``pass rate [0.12, 0.77] below
0.8``); this module names the cause from the case's scored trials. Pure: no
I/O, no store, so the run summary, the HTML report, the terminal and the
base-vs-head comparison all say it the same way.

    >>> from goldband.results import Completion, Score, ScoredTrial, Trial
    >>> def trial(i, out, ok):
    ...     score = Score('contains "30 days"', "pass" if ok else "fail", float(ok), "" if ok else "missing")
    ...     return ScoredTrial(Trial("c", "t", i, Completion(out)), (score,))
    >>> trials = [trial(0, "Within 30 days.", True), trial(1, "Never!\nSorry.", False), trial(2, "No.", False)]
    >>> why_text(trials)
    'contains "30 days": missing (2/3 trials)'
    >>> failing_output(trials)
    'Never! Sorry.'

Model text in these strings is made visible (control characters as Python
escapes, see ``report.escape``) and flattened to one line, but not
Markdown-escaped: ``why_markdown`` and ``escape_md`` do that.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from goldband.report.escape import escape_md, flat, shorten, visible
from goldband.results import Outcome, ScoredTrial, ToolCall

OUTPUT_LIMIT = 160  # characters of the failing output shown
LABEL_LIMIT = 80
DETAIL_LIMIT = 120
MAX_CHECKS = 3  # failing checks named in one line; the rest are counted
EMPTY_OUTPUT = "(empty output)"

__all__ = ["FailingCheck", "cause", "escape_md", "failing_checks", "failing_output", "why_markdown", "why_text"]


@dataclass(frozen=True, slots=True)
class FailingCheck:
    """One check that failed (or errored) in some trials of a case, or one kind of trial error.

    ``label`` is the check's label (``contains "30 days"``) or, for a trial that got no
    output to score, ``"<kind> error"`` (``timeout error``); ``detail`` is the most common
    detail among its failures (the first seen on a tie); ``failed`` of ``total`` trials.
    ``outcome`` is ``error`` when any of its failures was an error, else ``fail``.
    """

    label: str
    detail: str
    failed: int
    total: int
    outcome: Outcome
    source: Literal["check", "trial"] = "check"

    @property
    def text(self) -> str:
        """``contains "30 days": missing "30 days" (4/5 trials)``; one line, clipped, control characters visible."""
        label = shorten(visible(flat(self.label)), LABEL_LIMIT)
        if self.source == "check" and self.outcome == "error":
            label += " (error)"
        detail = shorten(visible(flat(self.detail)), DETAIL_LIMIT)
        return f"{label}{': ' + detail if detail else ''} ({self.failed}/{self.total} trials)"


def failing_checks(trials: Sequence[ScoredTrial]) -> list[FailingCheck]:
    """The case's failing checks and trial errors, most frequent first (first seen on a tie).

    Only gating scores count (a non-gating score never decides a trial); an empty list for
    a case whose trials all passed, or that has none."""
    groups: dict[tuple[str, str], list[tuple[str, Outcome]]] = {}
    for st in trials:
        for key, detail, outcome in _failures(st):
            groups.setdefault(key, []).append((detail, outcome))
    found = [_group(source, label, failures, len(trials)) for (source, label), failures in groups.items()]
    return sorted(found, key=lambda f: -f.failed)  # stable: first seen first on a tie


def _failures(st: ScoredTrial) -> list[tuple[tuple[str, str], str, Outcome]]:
    """Each distinct failure of one trial: ((source, label), detail, outcome)."""
    out: list[tuple[tuple[str, str], str, Outcome]] = []
    if st.trial.error is not None:
        kind = st.trial.error_kind
        prefix = f"{kind}: " if kind else ""
        detail = st.trial.error[len(prefix):] if prefix and st.trial.error.startswith(prefix) else st.trial.error
        out.append((("trial", f"{kind} error" if kind else "error"), detail, "error"))
    seen = set()
    for score in st.failed_checks:
        if score.check not in seen:  # a check listed twice on one trial still failed one trial
            seen.add(score.check)
            out.append((("check", score.check), score.detail, score.outcome))
    return out


def _group(source: str, label: str, failures: list[tuple[str, Outcome]], total: int) -> FailingCheck:
    details = Counter(detail for detail, _ in failures)
    detail = details.most_common(1)[0][0]  # most_common is stable: the first seen wins a tie
    outcome: Outcome = "error" if any(o == "error" for _, o in failures) else "fail"
    return FailingCheck(label, detail, len(failures), total, outcome, "trial" if source == "trial" else "check")


def failing_output(trials: Sequence[ScoredTrial], *, limit: int = OUTPUT_LIMIT) -> str | None:
    """What the model said in the first failing trial that has a reply (a failed trial before an
    errored one): one line, control characters visible, at most ``limit`` characters ending in ``…``.

    Tool calls stand in for an empty text output, as ``name({"arg": 1})``; a reply with neither
    is ``(empty output)``. None when no failing trial got a reply (all passed, or all errored
    before the model answered)."""
    failing = [st for st in trials if st.outcome != "pass" and st.trial.completion is not None]
    failing.sort(key=lambda st: st.outcome != "fail")  # stable: sample order within each outcome
    if not failing:
        return None
    completion = failing[0].trial.completion
    assert completion is not None
    text = flat(completion.output or "") or flat("; ".join(map(_call, completion.tool_calls))) or EMPTY_OUTPUT
    return shorten(visible(text), limit)


def _call(call: ToolCall) -> str:
    args = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments, ensure_ascii=False)
    return f"{call.name}({args})"


def why_text(trials: Sequence[ScoredTrial], *, max_checks: int = MAX_CHECKS) -> str:
    """The failing checks in one plain line (``; ``-separated, the rest counted); ``""`` when none."""
    checks = failing_checks(trials)
    parts = [c.text for c in checks[:max_checks]]
    if len(checks) > max_checks:
        parts.append(f"+{len(checks) - max_checks} more")
    return "; ".join(parts)


def why_markdown(trials: Sequence[ScoredTrial], *, max_checks: int = MAX_CHECKS) -> str:
    """``why_text`` escaped for a GitHub Markdown table cell (see ``report.escape.escape_md``)."""
    return escape_md(why_text(trials, max_checks=max_checks))


def cause(trials: Sequence[ScoredTrial], *, markdown: bool = False) -> str:
    """The failing checks and one quoted failing output in one line (``""`` when the trials show none);
    ``markdown``: escaped for a GitHub table cell."""
    output = failing_output(trials)
    if markdown:
        parts = (why_markdown(trials), f"“{escape_md(output)}”" if output is not None else "")
    else:
        parts = (why_text(trials), f"“{output}”" if output is not None else "")
    return " · ".join(part for part in parts if part)
