"""The check protocol and its registry.

A check is a small frozen pydantic model: its fields are its parameters, its
class is registered under a name, and ``evaluate`` is a pure function of the
trial. In a golden set a check is one mapping whose key names the check::

    - contains: ["30 days", "thirty days"]   # the *primary* parameter
      mode: any                              # other parameters beside it
      case_sensitive: false
    - length: {max: 400}                     # checks without a primary take a mapping

``evaluate`` returns a ``CheckResult``; raising ``CheckError`` (or anything
else) makes the score an *error*, never a pass.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from goldband.checks import transform as transforms
from goldband.errors import CheckError, ConfigError
from goldband.results import Completion, Score, Trial


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a check may look at: the trial, and the case it belongs to."""

    trial: Trial
    case_input: Any = None
    reference: str | None = None
    base_dir: Path = Path(".")
    tools: tuple[dict[str, Any], ...] = ()  # the tools offered to the model: the target's params 'tools'

    @property
    def output(self) -> str:
        return self.trial.output or ""

    def references(self, value: str | list[str] | None) -> list[str]:
        """The texts a check compares the output with: its own ``reference:`` (one or a list), else the
        case's reference; CheckError when there is none."""
        if value is not None:
            return [value] if isinstance(value, str) else list(value)
        if self.reference is None:
            raise CheckError("no text to compare with: give 'reference:' on the check or a case 'reference'")
        return [self.reference]

    def with_output(self, output: str) -> CheckContext:
        """The same context whose trial's output is ``output`` (after a transform); tool calls are kept."""
        completion = self.trial.completion
        changed = replace(completion, output=output) if completion else Completion(output)
        return replace(self, trial=replace(self.trial, completion=changed))

    def transformed(self, transform: str | None) -> CheckContext:
        """The context after an output ``transform`` (``goldband.checks.transform``); raises CheckError."""
        if not transform:
            return self
        return self.with_output(transforms.apply(transform, self.output, self.case_input, self.base_dir))


@dataclass(frozen=True, slots=True)
class CheckResult:
    passed: bool
    score: float
    detail: str = ""

    @classmethod
    def of(cls, passed: bool, detail: str = "") -> CheckResult:
        return cls(passed, 1.0 if passed else 0.0, detail)


class CheckSpec(BaseModel):
    """Base of every check; subclasses declare fields and ``evaluate``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str] = ""
    primary: ClassVar[str | None] = None  # field set by the value under the check's key
    primary_takes_mapping: ClassVar[bool] = False  # the primary value itself may be a mapping
    judged: ClassVar[bool] = False  # True: the run's judge grades it (the engine's Judge protocol), not evaluate()

    label: str | None = None  # a display name chosen by the user
    transform: str | None = None  # an output transform applied before this check (goldband.checks.transform)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        raise NotImplementedError

    def describe(self) -> str:
        """Short label for tables, e.g. ``contains "30 days"``."""
        if self.label:
            return self.label
        value = getattr(self, self.primary) if self.primary else None
        return f"{self.name} {_short(value)}" if value is not None else self.name

    def prepare(self, base_dir: Path) -> None:
        """Validate against the filesystem once at load (files exist, schemas compile)."""

    def waits(self) -> bool:
        """Whether ``evaluate`` waits on I/O (a provider call), so the engine runs it in a worker thread."""
        return False

    def run(self, ctx: CheckContext) -> Score:
        """Evaluate and turn exceptions into an *error* score with evidence."""
        try:
            result = self.evaluate(ctx.transformed(self.transform))
        except CheckError as exc:
            return Score(self.describe(), "error", 0.0, str(exc))
        except Exception as exc:  # a user callable or a bug must not crash the run
            return Score(self.describe(), "error", 0.0, f"{type(exc).__name__}: {exc}")
        return Score(self.describe(), "pass" if result.passed else "fail", _clamp(result.score), result.detail)


REGISTRY: dict[str, type[CheckSpec]] = {}
C = TypeVar("C", bound=type[CheckSpec])

#: The modules that define (and so register) the built-in checks, imported by name on first use.
FAMILIES = ("goldband.checks.text", "goldband.checks.structured", "goldband.checks.similarity",
            "goldband.checks.perf", "goldband.checks.tools", "goldband.checks.python",
            "goldband.checks.overlap", "goldband.checks.embedding",
            "goldband.checks.negation", "goldband.checks.numeric", "goldband.checks.refusal")
#: Checks defined in a higher layer, found by name: the rubric check belongs to the judge, and
#: checks never import the judge; its module loads the first time a golden set names it.
ELSEWHERE = {"rubric": "goldband.judge.check"}


def register(name: str) -> Callable[[C], C]:
    """Class decorator: make a check available under ``name`` in golden sets."""

    def deco(cls: C) -> C:
        old = REGISTRY.get(name)  # the same class from a re-imported module (pytester drops modules) replaces itself
        if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"check {name!r} is already registered")
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return deco


def build_check(entry: Any, where: str, base_dir: Path) -> CheckSpec:
    """Turn one golden-set check entry into a validated check, or a ConfigError."""
    if not isinstance(entry, Mapping) or not entry:
        raise ConfigError(
            f"a check must be a mapping like '- contains: \"text\"', found {_short(entry)}",
            where=where,
            expected=f"one of: {', '.join(known_names())}",
            fix="write the check's name, a colon and its value on one list item",
        )
    names = _own_names([k for k in entry if k in known_names()])
    if len(names) != 1:
        raise _unknown_check(entry, names, where)
    cls = lookup(names[0])
    params = _params(cls, entry[names[0]], {k: v for k, v in entry.items() if k != names[0]}, where)
    try:
        check = cls.model_validate(params)
    except ValidationError as exc:
        raise _invalid_params(cls, exc, where) from None
    try:
        check.prepare(base_dir)
    except CheckError as exc:
        raise ConfigError(f"check '{cls.name}': {exc}", where=where) from None
    if check.transform is not None:
        validate_transform(check.transform, where, base_dir, f"check '{cls.name}': ")
    return check


def validate_transform(transform: str, where: str, base_dir: Path, prefix: str = "") -> None:
    """A check's, case's or defaults' ``transform`` compiles or imports, else a ConfigError at ``where``."""
    try:
        transforms.validate(transform, base_dir)
    except CheckError as exc:
        raise ConfigError(f"{prefix}{exc}", where=where, expected="a Jinja2 expression such as 'output | lower' "
                          "or 'python:module:function'", fix="correct the transform") from None


def _own_names(names: list[str]) -> list[str]:
    """The check names of an entry, less those that are a parameter of another one (json_path's ``contains``)."""
    if len(names) < 2:
        return names
    params = {n: {f.alias or f_name for f_name, f in lookup(n).model_fields.items()} for n in names}
    return [n for n in names if not any(n in params[other] for other in names if other != n)]


def _params(cls: type[CheckSpec], value: Any, rest: dict[str, Any], where: str) -> dict[str, Any]:
    if cls.primary is None or (isinstance(value, Mapping) and not cls.primary_takes_mapping):
        if value is None:
            return rest
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"check '{cls.name}' takes a mapping of parameters, found {_short(value)}",
                where=where, expected=f"e.g. '- {cls.name}: {{...}}'",
            )
        return {**value, **rest}
    return {cls.primary: value, **rest}


def _unknown_check(entry: Mapping[str, Any], names: list[str], where: str) -> ConfigError:
    if len(names) > 1:
        return ConfigError(
            f"one check entry names several checks: {', '.join(names)}",
            where=where,
            fix="give each check its own '- name: ...' list item",
        )
    key = next(iter(entry))
    close = difflib.get_close_matches(str(key), known_names(), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return ConfigError(
        f"unknown check '{key}'",
        where=where,
        expected=f"one of: {', '.join(known_names())}",
        fix=f"{hint}check the spelling",
    )


def _invalid_params(cls: type[CheckSpec], exc: ValidationError, where: str) -> ConfigError:
    err = exc.errors()[0]
    names = {f.alias or n for n, f in cls.model_fields.items()}
    loc = str(err["loc"][0]) if err["loc"] else (cls.primary or "parameters")  # drop union-branch tags
    found = err.get("input")
    msg = err["msg"].removeprefix("Value error, ")
    allowed = ", ".join(sorted(names))
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(loc, names, n=1)
        return ConfigError(
            f"check '{cls.name}': unknown parameter '{loc}'", where=where,
            expected=f"parameters among: {allowed}",
            fix=f"did you mean '{close[0]}'?" if close else "remove it or correct its spelling",
        )
    return ConfigError(
        f"check '{cls.name}': parameter '{loc}': {msg} (found {_short(found)})",
        where=where,
        expected=f"parameters among: {allowed}",
        fix="correct or remove that parameter",
    )


def known_names() -> list[str]:
    """Every check name a golden set may use, built-in or defined elsewhere, sorted."""
    _load_families()
    return sorted(set(REGISTRY) | set(ELSEWHERE))


def lookup(name: str) -> type[CheckSpec]:
    """The check class registered under ``name``, importing its module when it lives elsewhere."""
    _load_families()
    if name not in REGISTRY and name in ELSEWHERE:
        importlib.import_module(ELSEWHERE[name])
    return REGISTRY[name]


def _load_families() -> None:
    for module in FAMILIES:
        importlib.import_module(module)  # cached after the first time; registers the family


def _clamp(x: float) -> float:
    return 0.0 if x != x else min(1.0, max(0.0, float(x)))


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= limit else text[: limit - 1] + "…"
