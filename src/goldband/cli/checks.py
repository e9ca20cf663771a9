"""``goldband checks [NAME]``: the reference of every check a golden set may use.

Read from the check registry itself (``goldband.checks.base``: every family in
``FAMILIES`` and the checks defined elsewhere, such as the judge's ``rubric``),
so it cannot drift from the code: each check's name, the first line of its
docstring, its parameters with their types and defaults (the *primary* one is
the value written under the check's key), and an example: the docstring's
``Example::`` block, else one built from the parameters.
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from typing import Any, Literal, Union

import click

from goldband.errors import UsageError

COMMON = ("label", "transform")  # parameters every check takes


@click.command("checks")
@click.argument("name", required=False)
def checks(name: str | None) -> None:
    """List every check with its parameters and an example; with NAME, that check in full.

    Every check also takes ``label`` (its name in reports) and ``transform`` (an output
    transform before it: a Jinja2 expression such as ``output | lower``, or ``python:module:function``).
    """
    from goldband.checks.base import known_names, lookup

    names = known_names()
    if name is None:
        click.echo("\n\n".join(summary(n, lookup(n)) for n in names))
        click.echo(f"\nEvery check also takes: {', '.join(COMMON)}. `goldband checks NAME` shows one in full.")
        return
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        raise UsageError(f"unknown check '{name}'", expected=f"one of: {', '.join(names)}",
                         fix=f"did you mean '{close[0]}'?" if close else "run `goldband checks` for the list")
    click.echo(full(name, lookup(name)))


def summary(name: str, cls: type[Any]) -> str:
    """Three lines: name and description, parameters, example."""
    params = ", ".join(_param(cls, field) for field in parameters(cls))
    shown = example(name, cls)
    return "\n".join([f"{name}: {first_line(cls)}", f"  parameters: {params or '(none)'}",
                      f"  example: {shown[0]}", *(f"           {line}" for line in shown[1:])])


def full(name: str, cls: type[Any]) -> str:
    """The whole docstring, one line per parameter, and the example."""
    lines = [name, "", _without_example(_doc(cls)) or "(no description)"]
    family = _family(cls)
    lines += ["", family] if family else []
    lines += ["", "parameters:"]
    for field in parameters(cls):
        lines.append(f"  {_param(cls, field)}")
    lines.append(f"  {', '.join(COMMON)}: common to every check")
    lines += ["", "example:", *(f"  {line}" for line in example(name, cls))]
    return "\n".join(lines)


def parameters(cls: type[Any]) -> list[str]:
    """The check's own parameter fields, the primary first."""
    own = [f for f in cls.model_fields if f not in COMMON]
    primary = _field_of(cls, cls.primary)
    return sorted(own, key=lambda f: f != primary)


def _field_of(cls: type[Any], written: str | None) -> str | None:
    """The field a golden set's name (an alias such as ``schema``) stands for."""
    if written is None:
        return None
    for field, info in cls.model_fields.items():
        if written in (field, info.alias):
            return str(field)
    return None


def _param(cls: type[Any], field: str) -> str:
    info = cls.model_fields[field]
    shown = info.alias or field
    mark = " (primary)" if field == _field_of(cls, cls.primary) else ""
    return f"{shown}{mark}: {type_name(info.annotation)}{_default(info)}"


def _default(info: Any) -> str:
    if info.is_required():
        return ", required"
    value = info.default_factory() if info.default_factory is not None else info.default
    return f" = {_yaml(value)}"


def type_name(tp: Any) -> str:
    """A parameter's type as a golden-set author reads it.

    >>> type_name(typing.Literal["all", "any"]), type_name(str | list[str]), type_name(float | None)
    ('all|any', 'str | list[str]', 'float | null')
    """
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "|".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join("null" if a is type(None) else type_name(a) for a in args)
    if origin in (list, dict, tuple):
        return f"{origin.__name__}[{', '.join(type_name(a) for a in args)}]"
    if tp is Any:
        return "any"
    return str(getattr(tp, "__name__", tp))


def first_line(cls: type[Any]) -> str:
    doc = _doc(cls)
    return doc.split("\n\n")[0].replace("\n", " ") if doc else "(no description)"


def _without_example(doc: str) -> str:
    head, sep, _ = doc.partition("Example::")
    return head.rstrip() if sep else doc


def _family(cls: type[Any]) -> str:
    """The module's docstring when the class has its own and the module says more than a line (no doctests)."""
    module = inspect.getmodule(cls)
    doc = inspect.cleandoc(module.__doc__ or "") if module and cls.__dict__.get("__doc__") else ""
    doc = doc.partition("\n>>>")[0].rstrip()
    return doc if "\n" in doc else ""


def _doc(cls: type[Any]) -> str:
    """The check's docstring, else its module's (a check family described once at the top)."""
    own = cls.__dict__.get("__doc__")
    module = inspect.getmodule(cls)
    return inspect.cleandoc(own or (module.__doc__ if module else None) or "")


def example(name: str, cls: type[Any]) -> list[str]:
    """The lines of the docstring's ``Example::`` block, else a minimal entry built from the parameters."""
    doc = _doc(cls).splitlines()
    for i, line in enumerate(doc):
        if line.rstrip().endswith("Example::") and (block := _block(doc[i + 1:])):
            indent = len(block[0]) - len(block[0].lstrip())
            return [d[indent:] for d in block]
    return [_built(name, cls)]


def _block(lines: list[str]) -> list[str]:
    """The indented lines right after ``Example::`` (blank lines before them skipped)."""
    out: list[str] = []
    for line in lines:
        if not line.strip():
            if out:
                break
            continue
        if not line.startswith("    "):
            break
        out.append(line)
    return out


def _built(name: str, cls: type[Any]) -> str:
    primary = _field_of(cls, cls.primary)
    if primary is not None:
        return f"- {name}: {_placeholder(cls.model_fields[primary])}"
    required = [f for f, info in cls.model_fields.items() if info.is_required()]
    inner = ", ".join(f"{cls.model_fields[f].alias or f}: {_placeholder(cls.model_fields[f])}" for f in required)
    return f"- {name}: {{{inner}}}" if inner else f"- {name}: {{}}"


def _placeholder(info: Any) -> str:
    if not info.is_required():
        value = info.default_factory() if info.default_factory is not None else info.default
        if value is not None:
            return _yaml(value)
    text = type_name(info.annotation)
    return {"str": '"text"', "float": "1.0", "int": "1", "bool": "true"}.get(text.split(" | ")[0], f"<{text}>")


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value) if not isinstance(value, (list, dict)) else str(value).replace("'", '"')
