"""A base-vs-head comparison as a terminal table and as Markdown for a pull request.

Regressions come first; unchanged cases are folded into a count so the PR
comment stays short. Case ids and labels are escaped for Markdown tables.
"""

from __future__ import annotations

from goldband.compare.cases import CaseChange, Comparison

ORDER = {"regressed": 0, "improved": 1, "new": 2, "removed": 3, "unchanged": 4}
MARK = {"regressed": "🔴 regressed", "improved": "🟢 improved", "new": "🆕 new", "removed": "⚪ removed",
        "unchanged": "unchanged"}


def headline(c: Comparison) -> str:
    counts = ", ".join(f"{c.count(k)} {k}" for k in ORDER if c.count(k))  # type: ignore[arg-type]
    return f"{len(c.changes)} cases: {counts or 'none'}"


def overall(c: Comparison) -> str:
    o = c.overall
    if o is None:
        return "no case ran on both sides"
    return (f"mean per-case pass-rate change {o.mean_delta:+.3f} "
            f"(95% CI [{o.interval[0]:+.3f}, {o.interval[1]:+.3f}]), "
            f"Wilcoxon signed-rank p = {o.p_value:.3g} over {o.n_cases} cases ({o.n_changed} moved)")


def _rate(stats: object) -> str:
    rate = getattr(stats, "rate", None)
    return "-" if rate is None else f"{getattr(stats, 'passes', 0)}/{getattr(stats, 'scored', 0)} ({rate:.2f})"


def _delta(ch: CaseChange) -> tuple[str, str, str]:
    if ch.delta is None:
        return "", "", ""
    ci = f"[{ch.low:+.2f}, {ch.high:+.2f}]" if ch.low is not None and ch.high is not None else ""
    p = f"{ch.p_value:.3g} ({ch.p_adjusted:.3g})" if ch.p_value is not None and ch.p_adjusted is not None else ""
    return f"{ch.delta:+.2f}", ci, p


def rows(c: Comparison, *, include_unchanged: bool) -> list[list[str]]:
    chosen = [ch for ch in c.changes if include_unchanged or ch.outcome != "unchanged"]
    chosen.sort(key=lambda ch: (ORDER[ch.outcome], ch.delta or 0.0, ch.key))
    return [[f"{ch.key[0]}::{ch.key[1]}", ch.key[2], _rate(ch.base), _rate(ch.head), *_delta(ch), ch.outcome]
            for ch in chosen]


HEADER = ["case", "target", "base", "head", "Δ pass rate", "95% CI", "p (BH-adjusted)", "outcome"]


def terminal(c: Comparison, *, verbose: bool = False) -> str:
    table = [HEADER, *rows(c, include_unchanged=verbose)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    lines = [f"goldband compare: {c.base_label} -> {c.head_label}", headline(c), overall(c), ""]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table]
    if not verbose and c.count("unchanged"):
        lines.append(f"({c.count('unchanged')} unchanged cases not shown; -v shows them)")
    return "\n".join(lines)


def markdown(c: Comparison) -> str:
    """A PR comment: headline, overall test, and the changed cases."""
    regressions = c.count("regressed")
    verdict = f"**{regressions} significant regression{'s' * (regressions != 1)}**" if regressions \
        else "**no significant regression**"
    lines = [f"### goldband pre-merge check: `{_code(c.base_label)}` → `{_code(c.head_label)}`", "",
             f"{verdict} · {headline(c)}", "", f"Overall: {overall(c)}.", ""]
    body = rows(c, include_unchanged=False)
    if body:
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(_md(cell) if i else f"`{_code(cell)}`" for i, cell in enumerate(
            [*r[:-1], MARK[r[-1]]])) + " |" for r in body]
    lines += ["", f"<sub>Per case: Barnard's exact test on pass counts (the case is the unit), Benjamini-Hochberg "
                  f"across cases at alpha = {c.alpha:g}, changes under {c.min_effect:g} ignored.</sub>", ""]
    return "\n".join(lines)


def _code(text: str) -> str:
    """Inside a code span only backticks and (in tables) pipes need care; < is literal there."""
    return text.replace("`", "'").replace("|", "\\|")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'").replace("<", "&lt;").replace(">", "&gt;")
