"""Markdown as GitHub renders it (cmark-gfm, with raw HTML let through), and what a test asks of the result.

Rendering with ``UNSAFE`` is stricter than GitHub: any raw HTML that survived our escaping shows up in the
HTML instead of being filtered, so a test fails on it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options

ELEMENTS = ("a", "img", "script", "iframe", "style", "h1", "h2", "h4", "h5", "h6", "em", "strong", "del", "math",
            "details", "input", "sup", "section")  # never made from escaped text (h3: the summary's heading)


def render(markdown: str) -> str:
    """``markdown`` as GitHub-flavoured HTML: tables, autolinks, strikethrough, tag filter, task lists."""
    return str(cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE))


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def tables(markdown: str) -> list[list[list[str]]]:
    """Each table of the rendered ``markdown``: its rows (header first), each row's cells as text."""
    return parse(render(markdown)).tables


def made(markdown: str) -> set[str]:
    """The elements of ``ELEMENTS`` that rendering ``markdown`` produced (none, for safe text)."""
    return set(parse(render(markdown)).tags) & set(ELEMENTS)


def cells(row: str) -> list[str]:
    """A raw Markdown table row split at its unescaped pipes (what cmark-gfm splits at, for our rows)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]
