"""The compact domain report shown for a failing item, instead of a traceback.

Model output is untrusted: control characters (terminal escapes included) are
shown escaped, never written raw to the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence

from goldband.bands import Verdict
from goldband.trial import ScoredTrial

OUTPUT_WIDTH = 72


def failure_report(title: str, where: str, verdict: Verdict, trials: Sequence[ScoredTrial]) -> str:
    lines = [
        f"{verdict.status} {title}  ({where})",
        f"  rule    {verdict.reason}",
        f"  trials  {_tally(verdict, trials)}",
        "",
        "  #  outcome  latency    output",
    ]
    for st in trials:
        lines.extend(_trial_lines(st))
    lines.extend(_check_summary(trials))
    return "\n".join(lines)


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
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


def summary_line(counts: dict[str, int], trials: int, replayed: int, seconds: float,
                 flaky: int = 0) -> str:
    """``goldband: 21 PASS (3 flaky), 3 FAIL · 120 trials, 120 replayed · 1.2 s``."""
    order = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR", "QUARANTINED")
    parts = [f"{counts[k]} {k}" + (f" ({flaky} flaky)" if k == "PASS" and flaky else "")
             for k in order if counts.get(k)]
    extra = f", {replayed} replayed" if replayed else ""
    return f"goldband: {', '.join(parts) or 'no cases'} · {trials} trials{extra} · {seconds:.1f} s"
