"""``number``: a number in the output, compared with an expected value within a tolerance.

The number is read from the output text: the ``first`` (default) or ``last``
number in it, or the one a regular expression ``pattern`` captures (its group
named ``number``, else its first group, else the whole match; ``pick`` then
chooses among the pattern's matches). Numbers may carry a sign, decimals, an
exponent and thousands separators (``1,234.5``); a ``-`` glued to a word or
digit (``2024-01``) is a hyphen, not a sign.

It passes when ``|found - value| <= max(tolerance, rel_tolerance * |value|)``:
``tolerance`` is absolute, ``rel_tolerance`` a fraction of the expected value;
both default to 0, an exact match.

>>> numbers("Total: $1,234.50, down -3% since 2024-01")
[1234.5, -3.0, 2024.0, 1.0]
"""

from __future__ import annotations

import math
import re
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator

from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register
from goldband.checks.text import compile_pattern

NUMBER = re.compile(r"(?<![\w.])[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\d)"
                    r"|(?<![\w.])[-+\u2212]?\.\d+(?:[eE][-+]?\d+)?")


def to_number(text: str) -> float:
    """``1,234.5`` → 1234.5; a Unicode minus is a minus."""
    return float(text.replace(",", "").replace("\u2212", "-"))


def numbers(text: str) -> list[float]:
    """Every number in ``text``, in order."""
    return [to_number(m.group()) for m in NUMBER.finditer(text)]


@register("number")
class Number(CheckSpec):
    """Pass when a number in the output is within a tolerance of ``value``.

    Example::

        - number: 42
          tolerance: 0.5
          pick: last
    """

    primary = "value"
    value: float
    tolerance: float = Field(0.0, ge=0.0)
    rel_tolerance: float = Field(0.0, ge=0.0)
    pick: Literal["first", "last"] = "first"
    pattern: str | None = Field(None, max_length=10_000)

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("the expected value must be a finite number")
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        return None if pattern is None else compile_pattern(pattern)

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern) if self.pattern is not None else NUMBER

    def describe(self) -> str:
        return self.label or f"number {self.value:g}" + (f" ±{self.allowed:g}" if self.allowed else "")

    @property
    def allowed(self) -> float:
        return max(self.tolerance, self.rel_tolerance * abs(self.value))

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        found, error = self.extract(ctx.output)
        if found is None:
            return CheckResult.of(False, error)
        ok = abs(found - self.value) <= self.allowed
        within = f"within ±{self.allowed:g} of" if ok else f"off by {abs(found - self.value):g} from"
        which = f"{self.pick} number" if self.pattern is None else f"{self.pick} match of the pattern"
        return CheckResult.of(ok, f"found {found:g} ({which}), {within} {self.value:g}")

    def extract(self, output: str) -> tuple[float | None, str]:
        """The picked number, or None and why there is none."""
        matches = list(self.compiled.finditer(output))
        if not matches:
            return None, "no number in the output" if self.pattern is None else f"pattern /{self.pattern}/ not found"
        match = matches[0] if self.pick == "first" else matches[-1]
        text = _captured(match)
        inside = NUMBER.search(text)
        if inside is None:
            return None, f"pattern captured {text[:40]!r}, which holds no number"
        return to_number(inside.group()), ""


def _captured(match: re.Match[str]) -> str:
    if "number" in match.re.groupindex:
        return match.group("number") or ""
    return (match.group(1) or "") if match.re.groups else match.group()
