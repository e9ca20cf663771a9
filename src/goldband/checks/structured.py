"""Checks on structured (JSON) output: json_valid, json_schema, json_path, contains_json."""

from __future__ import annotations

import json
import re
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, PrivateAttr, SerializerFunctionWrapHandler, field_validator, model_serializer

from goldband._util import jsonio
from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register
from goldband.checks.text import compile_pattern
from goldband.errors import CheckError, ConfigError, shorten

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


def parse_json(output: str, allow_fence: bool) -> tuple[Any, str | None]:
    """Parse output as JSON; returns (value, error message or None)."""
    text = output
    if allow_fence and (m := _FENCE.match(output)):
        text = m.group(1)
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"


def prepare_schema(schema: dict[str, Any] | str, base_dir: Path) -> dict[str, Any]:
    """Load (inline, or a file under ``base_dir``) and check a JSON Schema once at load; CheckError if bad."""
    from jsonschema import exceptions, validators

    loaded = schema if isinstance(schema, dict) else _load_schema_file(schema, base_dir)
    try:
        with warnings.catch_warnings():  # a pattern's FutureWarning ('possible nested set') is not an error
            warnings.simplefilter("ignore")
            cls = validators.validator_for(loaded, default=validators.Draft202012Validator)  # unknown $schema
            cls.check_schema(loaded)
    except exceptions.SchemaError as exc:
        raise CheckError(f"invalid JSON Schema: {shorten(exc.message, 200)}") from None
    except RecursionError:
        raise CheckError("invalid JSON Schema: nested too deeply to check") from None
    except Exception as exc:  # jsonschema trusts the schema's shape: "$schema": true is an AttributeError
        raise CheckError(f"invalid JSON Schema: {type(exc).__name__}: {shorten(str(exc), 200)}") from None
    return loaded


def _load_schema_file(name: str, base_dir: Path) -> dict[str, Any]:
    path = base_dir / name
    try:  # the one safe loader: bad bytes, deep nesting, malformed JSON name the schema file's line
        loaded = jsonio.load(path, name, cannot="cannot read schema file")
    except ConfigError as exc:
        raise CheckError(f"schema file {exc.render()}") from None
    if not isinstance(loaded, dict):
        raise CheckError(f"schema file {path} must hold a JSON object")
    return loaded


def schema_validator(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for a prepared schema (its declared draft, else 2020-12)."""
    from jsonschema import validators

    return validators.validator_for(schema, default=validators.Draft202012Validator)(schema)


def schema_errors(schema: dict[str, Any], value: Any) -> str | None:
    """None when ``value`` is valid, else the error count and the first error's place and message."""
    errors = sorted(schema_validator(schema).iter_errors(value), key=lambda e: list(e.path))
    if not errors:
        return None
    first = errors[0]
    at = "/".join(str(p) for p in first.absolute_path) or "(root)"
    return f"{len(errors)} schema error(s); at {at}: {first.message}"


@register("json_valid")
class JsonValid(CheckSpec):
    """Pass when the output parses as JSON (a ```json fence is allowed by default).

    Example::

        - json_valid: {}
    """

    allow_fence: bool = True

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        _, error = parse_json(ctx.output, self.allow_fence)
        return CheckResult.of(error is None, error or "valid JSON")


@register("json_schema")
class JsonSchema(CheckSpec):
    """Pass when the output is JSON valid against ``schema`` (inline mapping or a file path).

    Example::

        - json_schema: schemas/answer.json
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    primary = "schema"
    primary_takes_mapping = True
    schema_: dict[str, Any] | str = Field(alias="schema")
    allow_fence: bool = True
    _resolved: dict[str, Any] | None = PrivateAttr(default=None)

    def describe(self) -> str:
        src = self.schema_ if isinstance(self.schema_, str) else "inline"
        return self.label or f"json_schema {src}"

    def prepare(self, base_dir: Path) -> None:
        self._resolved = prepare_schema(self.schema_, base_dir)

    @property
    def validator(self) -> Any:
        """Built per use (about 25 µs): a cached jsonschema validator does not pickle."""
        if self._resolved is None:
            raise CheckError("schema was not prepared")
        return schema_validator(self._resolved)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        if self._resolved is None:  # rebuilt from its parameters, not through build_check
            self.prepare(ctx.base_dir)
        value, error = parse_json(ctx.output, self.allow_fence)
        if error:
            return CheckResult.of(False, error)
        if self._resolved is None:
            raise CheckError("schema was not prepared")
        error = schema_errors(self._resolved, value)
        return CheckResult.of(error is None, error or "valid against schema")


@register("json_path")
class JsonPath(CheckSpec):
    """Pass when the JSONPath ``path`` in the output meets its operators (none: the path exists).

    Operators (several may be combined; all must hold): ``value`` (equals),
    ``contains`` (a substring of a text, an item of a list, a key of a mapping),
    ``in`` (one of a list), ``matches`` (a regular expression, searched),
    ``gt``/``gte``/``lt``/``lte`` (numbers), ``exists`` (``false``: the path must
    be absent). When the path matches several values, ``value`` and ``contains``
    see them as one list, and the other operators must hold for each. Example::

        - json_path: "$.items[*].price"
          gte: 0
          lt: 100
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    primary = "path"
    path: str
    value: Any = None
    contains: Any = None
    in_: list[Any] | None = Field(None, alias="in")
    matches: str | None = Field(None, max_length=10_000)
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    exists: bool | None = None
    allow_fence: bool = True

    @field_validator("matches")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        return None if pattern is None else compile_pattern(pattern)

    def prepare(self, base_dir: Path) -> None:
        self.expression  # noqa: B018  (compiles the path: errors surface at load)
        if self.exists is False and (self.operators or "value" in self.model_fields_set):
            raise CheckError("'exists: false' asks for an absent path; other operators need it present, "
                             "so give one or the other")

    @model_serializer(mode="wrap")
    def _omit_unset_value(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No ``value`` means "exists"; dumping ``value: None`` would turn it into "equals null"."""
        data: dict[str, Any] = handler(self)
        if "value" not in self.model_fields_set:
            data.pop("value", None)
        return data

    @cached_property
    def expression(self) -> Any:
        from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
        from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

        try:
            return parse(self.path)
        except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
            raise CheckError(f"invalid JSONPath {self.path!r}: {exc}") from None

    @property
    def operators(self) -> dict[str, Any]:
        """The operators given besides ``value`` and ``exists``, by their names in golden sets."""
        given = {"contains": self.contains, "in": self.in_, "matches": self.matches,
                 "gt": self.gt, "gte": self.gte, "lt": self.lt, "lte": self.lte}
        return {k: v for k, v in given.items() if v is not None}

    def describe(self) -> str:
        if self.label:
            return self.label
        ops = [f"{k} {v:g}" if isinstance(v, float) else f"{k} {_short_json(v)}"  # none: the label as before
               for k, v in self.operators.items()]
        if self.exists is False:
            ops.append("absent")
        return " ".join([f'json_path "{self.path}"', *ops])

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        doc, error = parse_json(ctx.output, self.allow_fence)
        if error:
            return CheckResult.of(False, error)
        found = [m.value for m in self.expression.find(doc)]
        if self.exists is False:
            return CheckResult.of(not found, f"{self.path} absent" if not found else f"{self.path} present")
        if not found:
            return CheckResult.of(False, f"{self.path} not found")
        got = found[0] if len(found) == 1 else found
        problems = [p for name, want in self._wanted() if (p := _violation(name, want, got, found))]
        shown = f"{self.path} = {_short_json(got)}"
        if problems:
            return CheckResult.of(False, f"{shown}, {'; '.join(problems)}")
        return CheckResult.of(True, shown if self._wanted() else f"{self.path} present")

    def _wanted(self) -> list[tuple[str, Any]]:
        value = [("value", self.value)] if "value" in self.model_fields_set else []
        return value + list(self.operators.items())


_COMPARE = {"gt": (float.__gt__, ">"), "gte": (float.__ge__, ">="), "lt": (float.__lt__, "<"),
            "lte": (float.__le__, "<=")}


def _violation(name: str, want: Any, got: Any, found: list[Any]) -> str | None:
    """Why one operator does not hold, or None when it does."""
    if name == "value":
        return None if got == want else f"expected {_short_json(want)}"
    if name == "contains":
        return None if _holds(got, want) else f"does not contain {_short_json(want)}"
    bad = [v for v in found if not _each(name, want, v)]
    if not bad:
        return None
    if name == "in":
        return f"{_short_json(bad[0])} is not one of {_short_json(want)}"
    if name == "matches":
        return f"{_short_json(bad[0])} does not match /{want}/"
    return f"{_short_json(bad[0])} is not {_COMPARE[name][1]} {want:g}"


def _holds(got: Any, want: Any) -> bool:
    if isinstance(got, str):
        return isinstance(want, str) and want in got
    if isinstance(got, (list, dict)):
        return want in got
    return False


def _each(name: str, want: Any, value: Any) -> bool:
    if name == "in":
        return bool(value in want)
    if name == "matches":
        return isinstance(value, str) and re.search(want, value) is not None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return bool(_COMPARE[name][0](float(value), float(want)))


def _short_json(value: Any, limit: int = 60) -> str:
    return shorten(json.dumps(value, ensure_ascii=False, default=str), limit)


_FENCED = re.compile(r"```[ \t]*(?:json|JSON|json5)?[ \t]*\n(.*?)```", re.DOTALL)
MAX_STARTS = 200  # positions a '{' or '[' is tried from: bounded work on long prose full of brackets


def json_values(text: str) -> list[tuple[Any, str]]:
    """Every JSON object or array in ``text``: fenced ``json`` blocks first, then balanced ``{...}``/``[...]``.

    >>> json_values('Here: {"a": [1, 2]} and [3]')
    [({'a': [1, 2]}, 'at character 6'), ([3], 'at character 24')]
    """
    found = [(v, f"fenced block {i + 1}") for i, m in enumerate(_FENCED.finditer(text))
             if isinstance(v := _loads(m.group(1)), (dict, list))]
    text = _FENCED.sub(lambda m: " " * len(m.group()), text)  # each fenced block is found once
    decoder = json.JSONDecoder()
    pos, tries = 0, 0
    while tries < MAX_STARTS and (start := _next_open(text, pos)) >= 0:
        tries += 1
        try:
            value, end = decoder.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):
            pos = start + 1
            continue
        found.append((value, f"at character {start}"))
        pos = end
    return found


def _next_open(text: str, pos: int) -> int:
    starts = [i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0]
    return min(starts) if starts else -1


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None


@register("contains_json")
class ContainsJson(CheckSpec):
    """Pass when the output holds JSON (an object or array) inside prose, valid against ``schema`` if given.

    The JSON may be a fenced ```json block or the first balanced ``{...}`` or
    ``[...]`` that parses; with a schema, any one valid value passes. Example::

        - contains_json: {type: object, required: [city]}
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    primary = "schema"
    primary_takes_mapping = True
    schema_: dict[str, Any] | str | None = Field(None, alias="schema")
    _resolved: dict[str, Any] | None = PrivateAttr(default=None)

    def describe(self) -> str:
        if self.label:
            return self.label
        if self.schema_ is None:
            return "contains_json"
        return f"contains_json {self.schema_ if isinstance(self.schema_, str) else 'inline schema'}"

    def prepare(self, base_dir: Path) -> None:
        if self.schema_ is not None:
            self._resolved = prepare_schema(self.schema_, base_dir)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        if self.schema_ is not None and self._resolved is None:  # rebuilt from its parameters
            self.prepare(ctx.base_dir)
        values = json_values(ctx.output)
        if not values:
            return CheckResult.of(False, "no JSON object or array found in the output")
        if self._resolved is None:
            return CheckResult.of(True, f"JSON {type(values[0][0]).__name__} {values[0][1]}")
        errors = []
        for value, where in values:
            if (error := schema_errors(self._resolved, value)) is None:
                return CheckResult.of(True, f"JSON {where} valid against schema")
            errors.append(f"{where}: {error}")
        return CheckResult.of(False, f"{len(values)} JSON value(s), none valid; {errors[0]}")
