"""The base-vs-head comparison as a terminal table and as a Markdown PR comment."""

from __future__ import annotations

import re

import pytest

from goldband.compare.cases import CaseStats, Comparison, compare
from goldband.report.comparison import HEADER, headline, markdown, overall, rows, terminal


def key(case: str, target: str = "gpt") -> tuple[str, str, str]:
    return ("support", case, target)


@pytest.fixture(scope="module")
def mixed() -> Comparison:
    base = {key("drop-big"): CaseStats(20, 20), key("drop-small"): CaseStats(20, 20), key("same"): CaseStats(20, 15),
            key("same-too"): CaseStats(10, 10), key("rise"): CaseStats(20, 4), key("gone"): CaseStats(5, 5)}
    head = {key("drop-big"): CaseStats(20, 4), key("drop-small"): CaseStats(20, 10), key("same"): CaseStats(20, 15),
            key("same-too"): CaseStats(10, 10), key("rise"): CaseStats(20, 20), key("fresh"): CaseStats(5, 5)}
    return compare(base, head, base_label="main", head_label="feature")


def single(case: str, base: CaseStats, head: CaseStats, **labels: str) -> Comparison:
    return compare({key(case): base}, {key(case): head}, **labels)


def case_column(text: str) -> list[str]:
    """The first column of the terminal table's body."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("case"))
    return [line.split()[0] for line in lines[start + 1:] if line.startswith("support::")]


# --------------------------------------------------------------------------- terminal


def test_terminal_heading_lines(mixed):
    lines = terminal(mixed).splitlines()
    assert lines[0] == "goldband compare: main -> feature"
    assert lines[1] == "7 cases: 2 regressed, 1 improved, 1 new, 1 removed, 2 not significant" == headline(mixed)
    assert lines[2] == overall(mixed) and lines[2].startswith("mean per-case pass-rate change ")
    assert "over 5 cases (3 moved)" in lines[2]
    assert lines[4].split("  ")[0].strip() == "case" and "p (BH-adjusted)" in lines[4]


def test_terminal_regressions_first_biggest_drop_first_and_unchanged_folded(mixed):
    text = terminal(mixed)
    assert case_column(text) == ["support::drop-big", "support::drop-small", "support::rise", "support::fresh",
                                 "support::gone"]
    assert text.splitlines()[-1] == "(2 not significant not shown; -v shows them)"
    assert "support::same " not in text


def test_terminal_verbose_shows_unchanged_last(mixed):
    text = terminal(mixed, verbose=True)
    assert case_column(text)[-2:] == ["support::same", "support::same-too"]
    assert "not shown" not in text


def test_terminal_columns_are_aligned(mixed):
    lines = terminal(mixed, verbose=True).splitlines()[4:]
    start = lines[0].index("target")
    assert all(line[start - 2:start] == "  " and line[start] != " " for line in lines)


def test_terminal_row_cells():
    (row,) = rows(single("a", CaseStats(20, 20), CaseStats(20, 4)), include_unchanged=False)
    assert row[:5] == ["support::a", "gpt", "20/20 (1.00)", "4/20 (0.20)", "-0.80"]
    assert re.fullmatch(r"\[-0\.\d\d, -0\.\d\d\]", row[5])
    assert re.fullmatch(r"\S+ \(\S+\)", row[6]) and row[7] == "regressed"
    assert len(row) == len(HEADER)


def test_new_and_removed_rows_have_blank_statistics(mixed):
    by = {r[0]: r for r in rows(mixed, include_unchanged=False)}
    assert by["support::fresh"][2:] == ["-", "5/5 (1.00)", "", "", "", "new"]
    assert by["support::gone"][2:] == ["5/5 (1.00)", "-", "", "", "", "removed"]


def test_terminal_nothing_to_compare():
    text = terminal(compare({}, {}))
    assert text.splitlines()[1:3] == ["0 cases: none", "no case ran on both sides"]
    assert "not shown" not in text


# --------------------------------------------------------------------------- markdown


def test_markdown_headline_counts_regressions(mixed):
    text = markdown(mixed)
    assert text.splitlines()[0] == "### goldband pre-merge check: `main` → `feature`"
    assert f"**2 significant regressions** · {headline(mixed)}" in text
    one = markdown(single("a", CaseStats(20, 20), CaseStats(20, 4)))
    assert "**1 significant regression** ·" in one
    none = markdown(single("a", CaseStats(20, 20), CaseStats(20, 20)))
    assert "**no significant regression** ·" in none


def test_markdown_table_lists_changes_only_with_marks(mixed):
    table = [line for line in markdown(mixed).splitlines() if line.startswith("|")]
    assert table[0] == "| " + " | ".join(HEADER) + " |"
    assert table[1] == "|" + "---|" * len(HEADER)
    body = table[2:]
    assert [line.split(" | ")[0] for line in body] == [
        "| `support::drop-big`", "| `support::drop-small`", "| `support::rise`", "| `support::fresh`",
        "| `support::gone`"]
    assert body[0].endswith("| 🔴 regressed |") and body[2].endswith("| 🟢 improved |")
    assert body[3].endswith("| 🆕 new |") and body[4].endswith("| ⚪ removed |")
    assert "same" not in "\n".join(body)


def test_markdown_has_no_table_when_nothing_changed():
    text = markdown(single("a", CaseStats(20, 15), CaseStats(20, 15)))
    assert not [line for line in text.splitlines() if line.startswith("|")]
    assert "Benjamini-Hochberg across cases at alpha = 0.05, changes under 0.1 ignored" in text


def test_markdown_escapes_case_ids_and_labels():
    nasty = "a|b`c<script>"
    text = markdown(single(nasty, CaseStats(20, 20), CaseStats(20, 4), base_label="x|y", head_label="<z>"))
    row = next(line for line in text.splitlines() if line.startswith("| `support::"))
    assert row.startswith("| `support::a\\|b'c<script>` |")  # literal inside a code span: never HTML
    cells = re.split(r"(?<!\\)\|", row.strip())[1:-1]  # unescaped pipes delimit cells
    assert len(cells) == len(HEADER)
    assert "`c" not in text and all(line.count("`") % 2 == 0 for line in text.splitlines())
    assert text.splitlines()[0] == "### goldband pre-merge check: `x\\|y` → `<z>`"


def test_markdown_overall_without_common_cases():
    text = markdown(compare({key("old"): CaseStats(5, 5)}, {key("new"): CaseStats(5, 5)}))
    assert "Overall: no case ran on both sides." in text
    assert "**no significant regression** · 2 cases: 1 new, 1 removed" in text


def test_markdown_overall_line(mixed):
    assert f"Overall: {overall(mixed)}." in markdown(mixed)
    assert re.search(r"\(95% CI \[[-+]\d\.\d{3}, [-+]\d\.\d{3}\]\), Wilcoxon signed-rank p = \S+ over 5 cases",
                     overall(mixed))
