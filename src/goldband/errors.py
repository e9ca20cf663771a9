"""One exception family for goldband, with one message template.

Every user-facing error says *where* (file:line, case id, target, option),
*what* was found, what was *expected*, and how to *fix* it::

    GoldbandError                  base; never shown with a traceback into goldband
    ├── ConfigError                bad goldband.yaml, option, golden set, rubric, template
    ├── CassetteMiss               replay mode found no recorded response
    └── StoreError                 the store cannot be opened or written

Provider failures are *not* exceptions at this level: they become ERROR trials
(see ``goldband.results``), because an error is an outcome, never a crash.
"""

from __future__ import annotations


class GoldbandError(Exception):
    """Base error: formats ``where: what; expected: ...; fix: ...``."""

    def __init__(
        self,
        what: str,
        *,
        where: str | None = None,
        expected: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.what = what
        self.where = where
        self.expected = expected
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        parts = [f"{self.where}: {self.what}" if self.where else self.what]
        if self.expected:
            parts.append(f"expected {self.expected}")
        if self.fix:
            parts.append(f"fix: {self.fix}")
        return "; ".join(parts)


class ConfigError(GoldbandError):
    """Bad user input: configuration, golden sets, rubrics, templates, options."""


class CassetteMiss(GoldbandError):
    """Replay mode asked for a response that no cassette holds."""


class StoreError(GoldbandError):
    """The store cannot be opened, migrated or written."""


def where(path: object, line: int | None = None, *, case: str | None = None,
          target: str | None = None, field: str | None = None) -> str:
    """Build the *where* part: ``file:line: case 'id': target 't': field 'f'``."""
    loc = str(path) if line is None else f"{path}:{line}"
    if case is not None:
        loc += f": case '{case}'"
    if target is not None:
        loc += f": target '{target}'"
    if field:
        loc += f": field '{field}'"
    return loc
