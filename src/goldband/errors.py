"""Every goldband exception, with one message template.

Every user-facing error says *where* (file:line, case id, target, option),
*what* was found, what was *expected*, and how to *fix* it::

    GoldbandError                  base; never shown with a traceback into goldband
    ├── UsageError                 the user's input must change first (exit status 2 on the command line)
    │   ├── ConfigError            goldband.yaml, a golden set, rubric, template, lock or baseline file
    │   │   └── OptionError        a command-line option, ini key or GOLDBAND_* variable (an argparse error too)
    │   ├── MonitorError           bad input to a monitor: parameters, values, a saved state (a ValueError too)
    │   └── RegistryError          the registry refused: unknown model, alias or version, a changed artifact,
    │                              a parked candidate, a lost race; nothing was changed
    ├── StoreError                 the store cannot be opened, migrated or written (exit status 2)
    │   └── MergeConflict          stores to merge hold the same key with different content (nothing merged)
    ├── CommandFailed              a command ran and found a problem, e.g. agreement below its floor (exit 1)
    ├── CassetteMiss               replay mode found no recorded response
    ├── CaseFailed                 a golden case's verdict fails its pytest item; carries the domain report
    ├── NotMapped                  an imported peer assertion with no goldband check (listed, never dropped)
    ├── CheckError                 a check could not be evaluated: an *error* score, never a crash
    ├── CallFailed                 a provider call failed: an ERROR trial, never a crash
    ├── ReplyError                 the judge's reply cannot be used: an *error* score with the raw reply
    ├── RowRefused                 a logged prediction or label the store cannot take (counted, a ValueError too)
    └── SinkError                  an alert sink could not deliver (logged; the run goes on)

Provider, check and judge failures are caught where they happen and become
outcomes (ERROR trials, *error* scores), because an error is an outcome, never
a crash; they derive from ``GoldbandError`` so one ``except`` catches anything
goldband raises.

>>> err = ConfigError("unknown key 'runz'", where="goldensets/s.yaml:4", expected="runs", fix="rename it")
>>> str(err)
"goldensets/s.yaml:4: unknown key 'runz'; expected runs; fix: rename it"
>>> isinstance(err, UsageError), err.exit_status
(True, 2)
"""

from __future__ import annotations

import argparse
from typing import Any


class GoldbandError(Exception):
    """Base error: formats ``where: what; expected: ...; fix: ...``.

    ``exit_status`` is what the ``goldband`` command exits with when this error
    stops it: 1 unless a subclass says otherwise.
    """

    exit_status = 1
    max_part: int | None = None  # where, what, expected and fix are each clipped to this length (``clip``)

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
        where, what, expected, fix = (clip(p, self.max_part) if p and self.max_part else p
                                      for p in (self.where, self.what, self.expected, self.fix))
        parts = [f"{where}: {what}" if where else str(what)]
        if expected:
            parts.append(f"expected {expected}")
        if fix:
            parts.append(f"fix: {fix}")
        return "; ".join(parts)


class UsageError(GoldbandError):
    """The user's input is wrong and must change before goldband can do its job.

    Its parts are clipped (see ``clip``): a 10 MB value in a project file never
    becomes a 10 MB error line."""

    exit_status = 2
    max_part = 400


class ConfigError(UsageError):
    """Bad user input: configuration, golden sets, rubrics, templates, options."""


class OptionError(ConfigError, argparse.ArgumentTypeError):
    """A bad option value; argparse (and so pytest) shows its message as is."""


class MonitorError(UsageError, ValueError):
    """Bad input to a monitor: parameters, values, or a saved state."""


class RegistryError(UsageError):
    """The registry refused a request and left everything as it was."""


class StoreError(GoldbandError):
    """The store cannot be opened, migrated or written."""

    exit_status = 2


class MergeConflict(StoreError):
    """``goldband store merge``: two stores hold the same key with different content; which one is right is the
    user's call, so nothing is merged."""


class CommandFailed(GoldbandError):
    """A command did its work and found a problem the user asked it to look for (exit status 1)."""


class CassetteMiss(GoldbandError):
    """Replay mode asked for a response that no cassette holds."""


class CaseFailed(GoldbandError):
    """Raised by a golden item whose verdict fails it; ``report`` is the rendered domain table."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


class NotMapped(GoldbandError):
    """An imported peer assertion with no goldband check (``goldband import``): ``what`` says why; the importer
    lists it, never drops it."""


class CheckError(GoldbandError):
    """A check could not be evaluated (missing data, a bad user function...): an *error* score."""


class CallFailed(GoldbandError):
    """A provider call failed; ``kind`` is timeout, rate_limit, http, connection, malformed, refusal, ..."""

    RETRYABLE = frozenset({"timeout", "rate_limit", "connection", "server", "malformed"})

    def __init__(self, kind: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        self.attempts = 1

    @property
    def retryable(self) -> bool:
        return self.kind in self.RETRYABLE


class ReplyError(GoldbandError):
    """The judge's reply cannot be used; ``kind`` is unparseable, invalid, refusal or truncated."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class RowRefused(GoldbandError, ValueError):
    """A logged row cannot be stored; ``issue`` (a ``goldband.watch.records.Issue``) says why."""

    def __init__(self, issue: Any) -> None:
        super().__init__(str(getattr(issue, "message", issue)))
        self.issue = issue


class SinkError(GoldbandError):
    """An alert sink could not deliver an alert."""


def shorten(text: str, limit: int = 80) -> str:
    """A value for a message: ``text`` cut after ``limit`` characters, saying how many were left out.

    >>> shorten("abc")
    'abc'
    >>> shorten("x" * 1000, 10)
    'xxxxxxxxxx… (990 more characters)'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def clip(text: str, limit: int) -> str:
    """One part of a message kept to about ``limit`` characters: its start and its end, the middle left out.

    >>> clip("goldensets/s.yaml:3: name: " + "x" * 10_000 + " is too long", 60)
    'goldensets/s.yaml:3: name: xxxxxxxxxxxxx … (9,979 characters left out) … xxxxxxxx is too long'
    """
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    return f"{text[:head]} … ({len(text) - head - tail:,} characters left out) … {text[-tail:]}"


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
