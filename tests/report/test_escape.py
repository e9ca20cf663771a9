"""Untrusted text in GitHub Markdown: rendered by cmark-gfm (GitHub's renderer) it stays one cell of plain text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gfmkit import made, tables
from goldband.report.escape import WORD_JOINER, code_md, escape_md, flat, shorten, visible

HOSTILE = [
    "a | b \\| c \\\\| d",
    "line one\nline two\r\nthree\rfour\u2028five\x0bsix",
    "[click](http://evil.example) and ![pixel](http://evil.example/p.png) and [ref][1]",
    "<http://evil.example> <evil@example.com> <script>alert(1)</script> <img src=x onerror=alert(1)>",
    "bare http://evil.example/x https://evil.example ftp://evil.example www.evil.example WWW.EVIL.EXAMPLE",
    "mail evil@example.com mailto:evil@example.com xmpp:evil@example.com",
    "<!-- hidden --> <a href='http://x'>x</a> </td></tr></table> <details open>",
    "# heading\n## another\n---\n===\n> quote\n- item\n1. item\n- [ ] task",
    "`code` ``two`` ```fence``` \\`",
    "**bold** __bold__ *it* _it_ ~~strike~~ ~sub~ $x^2$ $$y$$",
    "&lt;script&gt; &#60;img&#62; &amp; &copy;",
    "ping @octocat and @org/team about #123 and owner/repo#4",
    "trailing backslash \\",
    "footnote[^1] and [^1]: http://evil.example",
    "colour \x1b[31mred\x1b[0m nul\x00 bidi\u202eevil zero\u200bwidth",
]


def cell_text(text: str) -> str:
    """What the reader should see: the text on one line, control characters visible, joiners after @ and #."""
    return visible(flat(text)).replace("@", "@" + WORD_JOINER).replace("#", "#" + WORD_JOINER)


def rendered_cell(text: str) -> list[list[str]]:
    (table,) = tables(f"| left | middle | right |\n|---|---|---|\n| x | {escape_md(text)} | y |\n")
    return table


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_one_cell_of_plain_text_on_github(text: str) -> None:
    table = rendered_cell(text)
    assert table == [["left", "middle", "right"], ["x", cell_text(text), "y"]]
    assert made(f"| a |\n|---|\n| {escape_md(text)} |\n") == set()
    assert made(f"before {escape_md(text)}") == set()  # inline outside a table too


@given(st.text(alphabet=st.sampled_from(list("|\\`*_[]()<>!#@:/.w&;$~-=+ \n\tahtpx1\x1b\u202e"))) | st.text())
def test_any_text_is_one_cell_of_plain_text_on_github(text: str) -> None:
    assert rendered_cell(text)[1] == ["x", cell_text(text) or "", "y"]


def test_what_is_escaped_and_what_is_left_readable() -> None:
    assert escape_md("a | b <script> [x](y) `z`\nnext") == r"a \| b \<script\> \[x\](y) \`z\` next"
    assert escape_md("pass rate [0.41, 0.86] straddles min_pass_rate 0.8") == \
        r"pass rate \[0.41, 0.86\] straddles min\_pass\_rate 0.8"
    assert escape_md("see https://x.io or www.x.io") == r"see https\://x.io or www\.x.io"
    assert escape_md("@ann #1") == f"@{WORD_JOINER}ann #{WORD_JOINER}1"


def test_code_spans_keep_names_in_one_cell() -> None:
    name = "support::a|b[`t`] <i>@x</i>"
    (table,) = tables(f"| case |\n|---|\n| {code_md(name)} |\n")
    assert table[1] == ["support::a|b['t'] <i>@x</i>"]
    assert made(f"| case |\n|---|\n| {code_md(name)} |\n") == set()
    assert code_md("") == "-"


def test_visible_writes_non_printable_characters_as_python_escapes() -> None:
    assert visible("a\x1b[2Jb\x00\u202e\u200b\u2060 é ✓") == "a\\x1b[2Jb\\x00\\u202e\\u200b\\u2060 é ✓"


def test_shorten_keeps_the_limit_including_the_ellipsis() -> None:
    assert shorten("abcdef", 6) == "abcdef"
    assert shorten("abcdefg", 6) == "abcde…"
    assert len(shorten("x" * 500, 160)) == 160
