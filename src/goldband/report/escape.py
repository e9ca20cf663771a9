r"""Untrusted text (model output, check details, user-written names) made safe to show.

Two concerns, one function each:

- ``visible``: control and other non-printable characters (terminal escapes,
  bidi overrides, zero-width characters) are written as Python escapes
  (``\x1b``, ``\u202e``), the one convention of every goldband report, so
  model output can neither drive a terminal nor reorder what a reviewer reads.
- ``escape_md``: text for GitHub-flavoured Markdown, inline (a table cell, a
  line after other text). Whitespace runs become one space, so a row cannot
  end early; ``|`` cannot split a cell; ``[ ] < > ` * _ ~ & $ \`` are
  backslash-escaped, so no link, image, autolink, HTML tag, entity, code span,
  emphasis or math can start; a ``:`` before ``/`` and the dot of ``www.`` are
  escaped, so GitHub does not linkify bare URLs; and a word joiner (U+2060,
  invisible) follows every ``@`` and ``#``, so an address is not linked, and
  ``@someone`` or ``#123`` in model output does not mention a user or
  cross-reference an issue from a pull-request comment (GitHub resolves those
  after the Markdown is rendered, where a backslash no longer helps).

    >>> print(escape_md("see [docs](http://x.io) | <b>www.x.io</b>\nnext").replace(WORD_JOINER, "+"))
    see \[docs\](http\://x.io) \| \<b\>www\.x.io\</b\> next
    >>> print(escape_md("ask @ann about #12").replace(WORD_JOINER, "+"))
    ask @+ann about #+12
    >>> print(code_md("support::a|b[`t`]"))
    `support::a\|b['t']`
    >>> print(visible("red \x1b[31m, reversed \u202e"))
    red \x1b[31m, reversed \u202e
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"
_LAYOUT = str.maketrans("\n\t", "  ")  # the line breaks and tabs ``visible_lines`` keeps
_MD = re.compile(r"[\\`*_\[\]|<>~&$]|:(?=/)|(?i:www)\.|[@#]")


def visible(text: str) -> str:
    """``text`` with every non-printable character (but the space) written as a Python escape."""
    if text.isprintable():  # the common case, checked in C: nothing to escape
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


def visible_lines(text: str) -> str:
    r"""``visible`` with newlines and tabs kept: for a ``<pre>`` block, where the layout is part of what was said.

    >>> visible_lines("Total: \u202e5$\u2069 refund\n\x07done")
    'Total: \\u202e5$\\u2069 refund\n\\x07done'
    """
    if text.translate(_LAYOUT).isprintable():  # the common case, checked in C: nothing to escape
        return text
    return "".join(ch if ch.isprintable() or ch in " \n\t" else ascii(ch)[1:-1] for ch in text)


def flat(text: object) -> str:
    """One line: every run of whitespace (newlines included) becomes one space."""
    return " ".join(str(text).split())


def escape_md(text: object) -> str:
    """``text`` safe inline in GitHub Markdown (a table cell): one line, nothing it can start or link."""
    return _MD.sub(_escape, visible(flat(text)))


def code_md(text: object) -> str:
    """``text`` as an inline code span in a Markdown table cell (a case or file name, not prose).

    Inside a code span nothing is parsed and GitHub links nothing; only a backtick (which would end
    the span; shown as ``'``) and ``|`` (which splits table cells even there; escaped) need care."""
    inner = visible(flat(text)).replace("`", "'").replace("|", "\\|")
    return f"`{inner}`" if inner else "-"


def _escape(match: re.Match[str]) -> str:
    found = match.group()
    if found in ("@", "#"):
        return found + WORD_JOINER
    if len(found) > 1:  # www.
        return found[:-1] + "\\."
    return "\\" + found


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``…`` when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"
