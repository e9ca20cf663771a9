"""Text checks: equals, contains, not_contains, starts_with, regex, length."""

from __future__ import annotations

import re
import warnings
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register
from goldband.errors import CheckError


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _non_empty(value: str | list[str]) -> str | list[str]:
    if isinstance(value, list) and not value:
        raise ValueError("an empty list matches nothing; give at least one value")
    return value


def compile_pattern(pattern: str) -> str:
    """Validate a regular expression at load: a ValueError in words, not a traceback."""
    try:
        with warnings.catch_warnings():  # a FutureWarning ('possible nested set') is not an error here
            warnings.simplefilter("ignore")
            re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    except RecursionError:
        raise ValueError("invalid regular expression: groups nested too deeply") from None
    return pattern


@register("equals")
class Equals(CheckSpec):
    """Pass when the output equals ``value``, or any of a list of values (after optional strip / case folding).

    A list is OpenAI Evals' list of ideals: any one of them is a match. Example::

        - equals: ["Paris", "Paris."]
    """

    primary = "value"
    value: str | list[str]
    strip: bool = True
    case_sensitive: bool = True

    @field_validator("value")
    @classmethod
    def _some_value(cls, value: str | list[str]) -> str | list[str]:
        return _non_empty(value)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        out = ctx.output.strip() if self.strip else ctx.output
        wants = [w.strip() if self.strip else w for w in _listed(self.value)]
        ok = _fold(out, self.case_sensitive) in {_fold(w, self.case_sensitive) for w in wants}
        if ok:
            return CheckResult.of(True, "equal")
        shown = repr(wants[0]) if len(wants) == 1 else f"each of {len(wants)} values"
        return CheckResult.of(False, f"output differs from {shown}")


@register("contains")
class Contains(CheckSpec):
    """Pass when the output contains the value(s): all of them, or any with ``mode: any``.

    Example::

        - contains: ["30 days", "thirty days"]
          mode: any
    """

    primary = "value"
    value: str | list[str]
    mode: Literal["all", "any"] = "all"
    case_sensitive: bool = True

    @property
    def values(self) -> list[str]:
        return [self.value] if isinstance(self.value, str) else list(self.value)

    def found(self, output: str) -> list[str]:
        out = _fold(output, self.case_sensitive)
        return [v for v in self.values if _fold(v, self.case_sensitive) in out]

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        hits = self.found(ctx.output)
        missing = [v for v in self.values if v not in hits]
        ok = bool(hits) if self.mode == "any" else not missing
        score = len(hits) / len(self.values) if self.values else 1.0
        detail = "found" if ok else f"not found: {', '.join(repr(m) for m in missing)}"
        return CheckResult(ok, 1.0 if ok and self.mode == "any" else score, detail)


@register("not_contains")
class NotContains(Contains):
    """Pass when the output contains none of the values (or not all, with ``mode: any``).

    Example::

        - not_contains: ["As an AI", "I cannot"]
    """

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        hits = self.found(ctx.output)
        ok = len(hits) < len(self.values) if self.mode == "any" else not hits
        detail = "absent" if ok else f"found forbidden: {', '.join(repr(h) for h in hits)}"
        return CheckResult.of(ok, detail)


@register("starts_with")
class StartsWith(CheckSpec):
    """Pass when the output (left-stripped by default) starts with ``value``, or with any of a list.

    Example::

        - starts_with: ["Yes", "Sure"]
    """

    primary = "value"
    value: str | list[str]
    strip: bool = True
    case_sensitive: bool = True

    @field_validator("value")
    @classmethod
    def _some_value(cls, value: str | list[str]) -> str | list[str]:
        return _non_empty(value)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        out = ctx.output.lstrip() if self.strip else ctx.output
        folded = _fold(out, self.case_sensitive)
        ok = any(folded.startswith(_fold(v, self.case_sensitive)) for v in _listed(self.value))
        return CheckResult.of(ok, "starts as expected" if ok else f"starts with {out[:30]!r}")


@register("fuzzy_match")
class FuzzyMatch(CheckSpec):
    """Pass when the output and ``value`` (or any of a list), both normalised, contain one another: OpenAI
    Evals' ``FuzzyMatch`` (lower case, no punctuation, no articles a/an/the, single spaces; an empty text
    matches only an empty one).

    Example::

        - fuzzy_match: ["Season 11", "11"]
    """

    primary = "value"
    value: str | list[str]

    @field_validator("value")
    @classmethod
    def _some_value(cls, value: str | list[str]) -> str | list[str]:
        return _non_empty(value)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        out = normalise(ctx.output)
        hit = next((v for v in _listed(self.value) if _either_contains(out, normalise(v))), None)
        return CheckResult.of(hit is not None, f"matches {hit!r}" if hit is not None
                              else f"normalised output {out[:60]!r} and no value contain one another")


_PUNCTUATION = str.maketrans("", "", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")  # string.punctuation
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise(text: str) -> str:
    """OpenAI Evals' ``normalize``: lower case, punctuation and articles removed, whitespace collapsed.

    >>> normalise("  The Season-11 finale!")
    'season11 finale'
    """
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def _either_contains(a: str, b: str) -> bool:
    return a == b if not a or not b else a in b or b in a


@register("regex")
class Regex(CheckSpec):
    """Pass when ``pattern`` matches (``search`` anywhere, or ``fullmatch``).

    Example::

        - regex: "\\b30 days\\b"
          case_sensitive: false
    """

    primary = "pattern"
    pattern: str = Field(max_length=10_000)  # compiling a megabyte pattern takes seconds
    match: Literal["search", "fullmatch"] = "search"
    case_sensitive: bool = True
    negate: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        return compile_pattern(pattern)

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern, 0 if self.case_sensitive else re.IGNORECASE)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        found = getattr(self.compiled, self.match)(ctx.output) is not None
        ok = found != self.negate
        if self.negate:
            return CheckResult.of(ok, "forbidden pattern matched" if found else "forbidden pattern absent")
        return CheckResult.of(ok, "matched" if found else "no match")

    def describe(self) -> str:
        return self.label or f"{'regex not' if self.negate else 'regex'} /{self.pattern}/"

    def prepare(self, base_dir: Path) -> None:
        if not self.pattern:
            raise CheckError("empty pattern matches everything; give a real pattern")


@register("length")
class Length(CheckSpec):
    """Pass when the output's length (in ``unit``) lies within ``[min, max]``.

    Example::

        - length: {max: 120, unit: words}
    """

    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)
    unit: Literal["chars", "words", "lines"] = "chars"

    def prepare(self, base_dir: Path) -> None:
        if self.min is None and self.max is None:
            raise CheckError("give 'min', 'max' or both, e.g. '- length: {max: 500}'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise CheckError(f"min {self.min} is greater than max {self.max}")

    def describe(self) -> str:
        return self.label or f"length {self.min or 0}..{self.max if self.max is not None else '∞'} {self.unit}"

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        n = measure(ctx.output, self.unit)
        low = self.min is None or n >= self.min
        high = self.max is None or n <= self.max
        return CheckResult.of(low and high, f"{n} {self.unit}")


def measure(text: str, unit: str) -> int:
    if unit == "words":
        return len(text.split())
    if unit == "lines":
        return len(text.splitlines())
    return len(text)
