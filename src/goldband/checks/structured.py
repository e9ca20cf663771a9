"""Checks on structured (JSON) output: json_valid, json_schema, json_path."""

from __future__ import annotations

import json
import re
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, PrivateAttr, SerializerFunctionWrapHandler, model_serializer

from goldband._util import jsonio
from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register
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


@register("json_valid")
class JsonValid(CheckSpec):
    """Pass when the output parses as JSON (a ```json fence is allowed by default)."""

    allow_fence: bool = True

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        _, error = parse_json(ctx.output, self.allow_fence)
        return CheckResult.of(error is None, error or "valid JSON")


@register("json_schema")
class JsonSchema(CheckSpec):
    """Pass when the output is JSON valid against ``schema`` (inline mapping or a file path)."""

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
        from jsonschema import exceptions, validators

        schema = self._load(base_dir)
        try:
            with warnings.catch_warnings():  # a pattern's FutureWarning ('possible nested set') is not an error
                warnings.simplefilter("ignore")
                cls = validators.validator_for(schema, default=validators.Draft202012Validator)  # unknown $schema
                cls.check_schema(schema)
        except exceptions.SchemaError as exc:
            raise CheckError(f"invalid JSON Schema: {shorten(exc.message, 200)}") from None
        except RecursionError:
            raise CheckError("invalid JSON Schema: nested too deeply to check") from None
        except Exception as exc:  # jsonschema trusts the schema's shape: "$schema": true is an AttributeError
            raise CheckError(f"invalid JSON Schema: {type(exc).__name__}: {shorten(str(exc), 200)}") from None
        self._resolved = schema

    def _load(self, base_dir: Path) -> dict[str, Any]:
        if isinstance(self.schema_, dict):
            return self.schema_
        path = base_dir / self.schema_
        try:  # the one safe loader: bad bytes, deep nesting, malformed JSON name the schema file's line
            loaded = jsonio.load(path, self.schema_, cannot="cannot read schema file")
        except ConfigError as exc:
            raise CheckError(f"schema file {exc.render()}") from None
        if not isinstance(loaded, dict):
            raise CheckError(f"schema file {path} must hold a JSON object")
        return loaded

    @property
    def validator(self) -> Any:
        """Built per use (about 25 µs): a cached jsonschema validator does not pickle."""
        from jsonschema import validators

        if self._resolved is None:
            raise CheckError("schema was not prepared")
        return validators.validator_for(self._resolved, default=validators.Draft202012Validator)(self._resolved)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        if self._resolved is None:  # rebuilt from its parameters, not through build_check
            self.prepare(ctx.base_dir)
        value, error = parse_json(ctx.output, self.allow_fence)
        if error:
            return CheckResult.of(False, error)
        errors = sorted(self.validator.iter_errors(value), key=lambda e: list(e.path))
        if not errors:
            return CheckResult.of(True, "valid against schema")
        first = errors[0]
        at = "/".join(str(p) for p in first.absolute_path) or "(root)"
        return CheckResult.of(False, f"{len(errors)} schema error(s); at {at}: {first.message}")


@register("json_path")
class JsonPath(CheckSpec):
    """Pass when the JSONPath ``path`` in the output equals ``value`` (or exists, if no value)."""

    primary = "path"
    path: str
    value: Any = None
    allow_fence: bool = True

    def prepare(self, base_dir: Path) -> None:
        self.expression  # noqa: B018  (compiles the path: errors surface at load)

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

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        doc, error = parse_json(ctx.output, self.allow_fence)
        if error:
            return CheckResult.of(False, error)
        found = [m.value for m in self.expression.find(doc)]
        if not found:
            return CheckResult.of(False, f"{self.path} not found")
        if "value" not in self.model_fields_set:
            return CheckResult.of(True, f"{self.path} present")
        got = found[0] if len(found) == 1 else found
        ok = got == self.value
        detail = f"{self.path} = {json.dumps(got)[:60]}"
        return CheckResult.of(ok, detail if ok else f"{detail}, expected {json.dumps(self.value)[:60]}")
