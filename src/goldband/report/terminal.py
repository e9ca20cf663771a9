"""The compact domain report shown for a failing item, instead of a traceback.

Model output is untrusted: control characters (terminal escapes included) are
shown escaped (``report.escape.visible``), never written raw to the terminal.
A non-passing case names its failing checks (``report.why``) beside the rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from goldband.bands.verdict import fails_item
from goldband.engine.budget import Budget
from goldband.engine.plan import Outcome
from goldband.engine.scheduler import EngineStats
from goldband.report.escape import visible
from goldband.report.why import why_text
from goldband.results import ScoredTrial, Verdict

OUTPUT_WIDTH = 72


def failure_report(title: str, where: str, verdict: Verdict, trials: Sequence[ScoredTrial],
                   *, all_trials: bool = False, bar: float | None = None) -> str:
    """The compact table; passing trials beyond the first are folded unless ``all_trials`` (-v)."""
    lines = [f"{verdict.status} {title}  ({where})", f"  rule    {verdict.reason}"]
    if why := why_text(trials):
        lines.append(f"  why     {why}")
    if (rate := _rate_line(verdict, bar)) is not None:
        lines.append(f"  rate    {rate}")
    lines += [f"  trials  {_tally(verdict, trials)}", *(f"  note    {n}" for n in verdict.notes), "",
              "  #  outcome  latency    output"]
    shown_pass = False
    for st in trials:
        if st.outcome == "pass" and shown_pass and not all_trials:
            continue
        shown_pass = shown_pass or st.outcome == "pass"
        lines.extend(_trial_lines(st))
    if (hidden := sum(st.outcome == "pass" for st in trials) - 1) > 0 and not all_trials:
        lines.append(f"  (+{hidden} more passing trials; -v shows them)")
    lines.extend(_check_summary(trials))
    return "\n".join(lines)


def _rate_line(verdict: Verdict, bar: float | None) -> str | None:
    rate = verdict.pass_rate
    if rate is None or verdict.pass_rate_low is None or verdict.pass_rate_high is None:
        return None
    level = f"{verdict.confidence:.0%} " if verdict.confidence else ""
    text = (f"{verdict.passes}/{verdict.passes + verdict.fails} = {rate:.2f}, "
            f"{level}interval [{verdict.pass_rate_low:.2f}, {verdict.pass_rate_high:.2f}]")
    text += f"; bar {bar:g}" if bar is not None else ""
    if verdict.errors:  # errored trials are outside the rate: say so, never a silent 4/4
        text += f"; {verdict.errors} errored trial{'s' * (verdict.errors != 1)} not in the rate"
    return text


def _tally(verdict: Verdict, trials: Sequence[ScoredTrial]) -> str:
    replayed = sum(1 for t in trials if t.trial.cached)
    text = f"{verdict.n} run: {verdict.passes} pass, {verdict.fails} fail, {verdict.errors} error"
    return text + (f" ({replayed} replayed)" if replayed else "")


def _trial_lines(st: ScoredTrial) -> list[str]:
    trial = st.trial
    latency = f"{trial.latency_ms:7.0f} ms" if trial.latency_ms is not None else "      - "
    outcome = st.outcome if st.outcome == "pass" else st.outcome.upper()
    shown = shorten(trial.output) if trial.error is None else ""
    lines = [f"  {trial.sample:<2} {outcome:<8} {latency}  {shown}"]
    if trial.error is not None:
        lines.append(f"       ! {safe(trial.error)}")
    lines.extend(f"       x {s.check}: {safe(s.detail)}" for s in st.failed_checks)
    return lines


def _check_summary(trials: Sequence[ScoredTrial]) -> list[str]:
    counts: dict[str, list[int]] = {}
    for st in trials:
        for s in st.scores:
            tally = counts.setdefault(s.check, [0, 0])
            tally[0] += s.outcome == "pass"
            tally[1] += 1
    if not counts:
        return []
    width = min(48, max(len(name) for name in counts))
    return ["", "  checks"] + [
        f"    {safe(name)[:width]:<{width}}  {p}/{n} pass" for name, (p, n) in counts.items()
    ]


def shorten(text: str | None, width: int = OUTPUT_WIDTH) -> str:
    if text is None:
        return "(no text output)"
    flat = safe(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def safe(text: str) -> str:
    """Escape control characters so model output cannot drive the terminal."""
    return visible(text)


def summary_lines(outcomes: Sequence[Outcome], seconds: float, budget: Budget | None = None,
                  engine: EngineStats | None = None) -> list[str]:
    """The verdict count line, then the provider traffic, the budget and any non-failing
    INCONCLUSIVE cases. ``engine`` is the run's ``EngineStats``, when calls were made."""
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.verdict.status] = counts.get(o.verdict.status, 0) + 1
    trials = sum(len(o.trials) for o in outcomes)
    replayed = sum(t.trial.cached for o in outcomes for t in o.trials)
    flaky = sum(o.verdict.status == "PASS" and o.verdict.passes < o.verdict.n for o in outcomes)
    lines = [summary_line(counts, trials, replayed, seconds, flaky)]
    if engine is not None and engine.requests:
        lines.append(engine_line(engine))
    if engine is not None:
        lines += [outage.describe() for outage in engine.outages]  # a target given up: said once
    if budget is not None:
        lines.append(f"goldband {budget.describe()}")
    lines += [f"goldband: {o.verdict.status} (not failing the run) {o.plan.goldenset}::{o.plan.case.id}"
              f"[{o.plan.target.name}]: {_reason(o)}" for o in outcomes
              if o.verdict.status in ("INCONCLUSIVE", "QUARANTINED") and not _fails(o)]
    return lines


def _reason(outcome: Outcome) -> str:
    """The verdict's rule, then the failing checks (if any): ``rule — contains "x": missing (2/9 trials)``."""
    why = why_text(outcome.trials)
    return f"{outcome.verdict.reason} — {why}" if why else outcome.verdict.reason


def engine_line(stats: EngineStats) -> str:
    """``goldband engine: 100 requests for 300 samples · 3 retries (2 after a 429) · 1 call failed``."""
    text = f"goldband engine: {stats.requests} requests for {stats.samples} samples"
    if stats.retries:
        text += f" · {stats.retries} retries ({stats.rate_limited} after a 429)"
    if stats.failures:
        text += f" · {stats.failures} call{'s' * (stats.failures != 1)} failed after retries"
    return text


def _fails(outcome: Outcome) -> bool:
    return fails_item(outcome.verdict, outcome.plan.case.band.inconclusive)


def summary_line(counts: dict[str, int], trials: int, replayed: int, seconds: float,
                 flaky: int = 0) -> str:
    """``goldband: 21 PASS (3 flaky), 3 FAIL · 120 trials, 120 replayed · 1.2 s``."""
    order = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR", "QUARANTINED")
    parts = [f"{counts[k]} {k}" + (f" ({flaky} flaky)" if k == "PASS" and flaky else "")
             for k in order if counts.get(k)]
    extra = f", {replayed} replayed" if replayed else ""
    return f"goldband: {', '.join(parts) or 'no cases'} · {trials} trials{extra} · {seconds:.1f} s"
