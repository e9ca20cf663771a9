"""A base-vs-head comparison as a terminal table and as Markdown for a pull request.

Regressions come first; cases that are not significant or have the same content
on both sides are folded into counts so the PR comment stays short (``-v`` lists
them). Case ids and labels are escaped for Markdown tables; a caller may add,
per case, a Markdown "why" (the failing checks and output, already escaped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from goldband.compare.cases import CaseChange, Comparison, Key
from goldband.report.escape import code_md, escape_md
from goldband.report.why import cause
from goldband.results import ScoredTrial

ORDER = {"regressed": 0, "improved": 1, "new": 2, "removed": 3, "not significant": 4, "same content": 5}
MARK = {"regressed": "🔴 regressed", "improved": "🟢 improved", "new": "🆕 new", "removed": "⚪ removed",
        "not significant": "not significant", "same content": "unchanged (same content)"}
FOLDED = ("not significant", "same content")  # counted, listed only with -v


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
    return f"{ch.delta:+.2f}", ci + ("*" if ch.looks > 1 else ""), p


def chosen(c: Comparison, *, include_folded: bool) -> list[CaseChange]:
    """The cases a table lists, worst first."""
    picked = [ch for ch in c.changes if include_folded or ch.outcome not in FOLDED]
    return sorted(picked, key=lambda ch: (ORDER[ch.outcome], ch.delta or 0.0, ch.key))


def rows(c: Comparison, *, include_unchanged: bool) -> list[list[str]]:
    return [[f"{ch.key[0]}::{ch.key[1]}", ch.key[2], _rate(ch.base), _rate(ch.head), *_delta(ch), ch.outcome]
            for ch in chosen(c, include_folded=include_unchanged)]


HEADER = ["case", "target", "base", "head", "Δ pass rate", "95% CI", "p (BH-adjusted)", "outcome"]
ADAPTIVE = ("* a side stopped adaptively: p multiplied by its possible stopping points, interval widened to "
            "match (valid under optional stopping)")


def folded(c: Comparison) -> str | None:
    """'(3 not significant, 2 unchanged (same content) not shown; -v shows them)', or None."""
    parts = [f"{c.count(k)} {MARK[k]}" for k in FOLDED if c.count(k)]  # type: ignore[arg-type]
    return f"({', '.join(parts)} not shown; -v shows them)" if parts else None


def terminal(c: Comparison, *, verbose: bool = False, why: Mapping[Key, Sequence[ScoredTrial]] | None = None) -> str:
    """The table; with ``why`` (each case's head trials), a line under each regression naming its
    failing checks and one failing output."""
    table = [HEADER, *rows(c, include_unchanged=verbose)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    lines = [f"goldband compare: {c.base_label} -> {c.head_label}", headline(c), *c.notes, overall(c), ""]
    lines.append("  ".join(cell.ljust(w) for cell, w in zip(HEADER, widths, strict=True)).rstrip())
    for ch, r in zip(chosen(c, include_folded=verbose), table[1:], strict=True):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        if why is not None and ch.outcome == "regressed" and (found := cause(why.get(ch.key, ()))):
            lines.append(f"  ↳ {found}")
    if any(ch.looks > 1 for ch in chosen(c, include_folded=verbose)):
        lines.append(ADAPTIVE)
    if not verbose and (text := folded(c)):
        lines.append(text)
    return "\n".join(lines)


def markdown(c: Comparison, *, why: Mapping[Key, str] | None = None, link: str | None = None) -> str:
    """A PR comment: headline, how N was chosen, overall test, the changed cases and why they failed.

    ``why`` maps a case to Markdown that is already escaped (its failing checks and one output);
    ``link`` is a Markdown line leading to the full report (``goldband.report.links``)."""
    regressions = c.count("regressed")
    verdict = f"**{regressions} significant regression{'s' * (regressions != 1)}**" if regressions \
        else "**no significant regression**"
    lines = [f"### goldband pre-merge check: {code_md(c.base_label)} → {code_md(c.head_label)}", "",
             f"{verdict} · {headline(c)}", "", *(f"- {escape_md(note)}" for note in c.notes), "",
             f"Overall: {overall(c)}.", ""]
    listed = chosen(c, include_folded=False)
    if listed:
        head = [*HEADER, "why (head)"] if why is not None else HEADER
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += [_md_row(ch, why) for ch in listed]
    if any(ch.looks > 1 for ch in listed):
        lines += ["", escape_md(ADAPTIVE)]
    if text := folded(c):
        lines += ["", escape_md(text.replace("; -v shows them)", "")) + "; `goldband compare -v` lists them)"]
    if link:
        lines += ["", link]
    lines += ["", f"<sub>Per case: Barnard's exact test on pass counts (the case is the unit), Benjamini-Hochberg "
                  f"across cases at alpha = {c.alpha:g}, changes under {c.min_effect:g} ignored.</sub>", ""]
    return "\n".join(lines)


def why_cells(trials: Mapping[Key, Sequence[ScoredTrial]]) -> dict[Key, str]:
    """Per case, its failing checks and one failing output as Markdown for the head's column."""
    return {key: cause(found, markdown=True) or "-" for key, found in trials.items()}


def _md_row(ch: CaseChange, why: Mapping[Key, str] | None) -> str:
    row = [f"{ch.key[0]}::{ch.key[1]}", ch.key[2], _rate(ch.base), _rate(ch.head), *_delta(ch)]
    cells = [code_md(row[0]), *(escape_md(cell) for cell in row[1:]), MARK[ch.outcome]]
    if why is not None:
        cells.append(why.get(ch.key, ""))
    return "| " + " | ".join(cells) + " |"

