"""Output transforms: reshape the output before checks read it.

A ``transform:`` key on any check, on a case or in a golden set's ``defaults``
names one of two things:

- a **Jinja2 expression** with ``output`` (the text) and ``input`` (the case
  input) in scope, evaluated in Jinja2's ``ImmutableSandboxedEnvironment``
  (no Python internals, no mutation), e.g. ``output | lower`` or
  ``output.split("Answer:")[-1] | trim``;
- a **Python callable** ``python:module:function`` or ``python:path/file.py:function``
  (the ``python:`` prefix may be left out when the text is plainly such a
  reference), imported from the project directory like the ``python`` check's
  function. It is called as ``function(output, input)``, or ``function(output)``
  when it takes one argument.

A result that is not text becomes text: a list or mapping as JSON (so JSON
checks can read it), anything else through ``str``. A case-level transform runs
first, then a check's own. A transform that raises makes the check's score an
*error* naming the transform, never a pass. Model output is data here: it is
passed as a value and never evaluated.

>>> apply("output | upper", "yes", None, Path("."))
'YES'
>>> apply("output.split(':')[-1] | trim", "Answer: 42", None, Path("."))
'42'
>>> kind("python:tools/clean.py:strip_tags"), kind("app.clean:normalise"), kind("output | lower")
('callable', 'callable', 'jinja')
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from goldband._util.imports import import_callable
from goldband.errors import CheckError, ConfigError

_MODULE_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_FILE_REF = re.compile(r"^[\w./\\-]+\.py:[A-Za-z_]\w*$")


def kind(spec: str) -> Literal["callable", "jinja"]:
    """Whether ``spec`` names a Python callable or is a Jinja2 expression."""
    if spec.startswith("python:"):
        return "callable"
    return "callable" if _MODULE_REF.match(spec) or _FILE_REF.match(spec) else "jinja"


def validate(spec: str, base_dir: Path) -> None:
    """Check a transform once at load: the expression compiles, the callable imports (else CheckError)."""
    if not spec.strip():
        raise CheckError("empty transform; give a Jinja2 expression or 'python:module:function'")
    if kind(spec) == "jinja":
        _expression(spec)
    else:
        _callable(spec, base_dir.resolve())


def apply(spec: str, output: str, case_input: Any, base_dir: Path) -> str:
    """The transformed output; raises CheckError naming the transform when it fails."""
    try:
        if kind(spec) == "jinja":
            value = _expression(spec)(output=output, input=case_input)
        else:
            value = _call(_callable(spec, base_dir.resolve()), output, case_input)
        return as_text(value)  # an undefined or unsafe result raises only when turned into text
    except CheckError:
        raise
    except Exception as exc:
        raise CheckError(f"transform {spec!r} raised {type(exc).__name__}: {exc}") from None


def as_text(value: Any) -> str:
    """A transform's result as the text checks read: lists and mappings as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else str(value)


@functools.lru_cache(maxsize=256)
def _expression(spec: str) -> Callable[..., Any]:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    try:
        return env.compile_expression(spec, undefined_to_none=False)
    except jinja2.TemplateSyntaxError as exc:
        raise CheckError(f"transform {spec!r} is not a valid Jinja2 expression: {exc.message}") from None


@functools.lru_cache(maxsize=256)
def _callable(spec: str, root: Path) -> Callable[..., Any]:
    ref = spec.removeprefix("python:")
    path, sep, attr = ref.rpartition(":")
    try:
        if sep and path.endswith(".py"):
            return _from_file(root / path, attr)
        return import_callable(ref, root)
    except ConfigError as exc:
        raise CheckError(f"transform {spec!r}: {exc.what}") from None


def _from_file(path: Path, attr: str) -> Callable[..., Any]:
    if not path.is_file():
        raise ConfigError(f"file {path} not found")
    name = f"goldband_transform_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"importing {path} raised {type(exc).__name__}: {exc}") from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise ConfigError(f"{path} has no callable {attr!r}")
    return func  # type: ignore[no-any-return]


def _call(func: Callable[..., Any], output: str, case_input: Any) -> Any:
    try:
        inspect.signature(func).bind(output, case_input)
    except TypeError:
        return func(output)
    except ValueError:  # no signature (a builtin): try the documented two arguments
        pass
    return func(output, case_input)
