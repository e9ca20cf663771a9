"""The base of every configuration model, and the one way to validate with file:line errors.

Every config file goldband reads (goldband.yaml, golden sets, rubrics, band
options) is parsed into frozen pydantic models that forbid unknown keys; the
first validation error becomes a ``ConfigError`` that names the file and line
(from ``goldband._util.yamlio.Lines``), what was found, and the fix.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from goldband._util import yamlio
from goldband.errors import ConfigError, shorten


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def parse(model: type[Strict], raw: Any, lines: yamlio.Lines, prefix: tuple[str | int, ...] = ()) -> Any:
    """Validate ``raw`` with pydantic; the first error becomes a ConfigError at file:line."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc, lines, prefix) from None


def validation_error(exc: ValidationError, lines: yamlio.Lines, prefix: tuple[str | int, ...] = ()) -> ConfigError:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if not str(p).startswith(("function-", "literal[", "list[", "dict[")))
    field = ".".join(str(p) for p in loc) or "(top level)"
    found = err.get("input")
    what = _describe(err["type"], err["msg"], field, found)
    return ConfigError(what, where=lines.where((*prefix, *loc)), fix=_fix(err["type"], field))


def _describe(kind: str, msg: str, field: str, found: Any) -> str:
    if kind == "extra_forbidden":
        return f"unknown key '{field.rsplit('.', 1)[-1]}' at {field}"
    if kind == "missing":
        return f"missing required key '{field}'"
    shown = repr(found) if not isinstance(found, dict) else "a mapping"
    return f"{field}: {shorten(msg.removeprefix('Value error, '), 200)} (found {shorten(shown)})"


def _fix(kind: str, field: str) -> str:
    if kind == "extra_forbidden":
        return "remove it or check its spelling (see the configuration reference in README.md)"
    if kind == "missing":
        return f"add '{field.rsplit('.', 1)[-1]}'"
    return f"correct '{field}'"
