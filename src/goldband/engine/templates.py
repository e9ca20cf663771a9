"""Prompt templates, rendered in a sandbox with bounded work.

A target's templates (its ``prompt:`` file, inline ``messages:`` and ``system:``)
are rendered once per case by Jinja2's ``SandboxedEnvironment``, which keeps them
away from Python internals, with these limits on top (each a module constant,
documented in README.md, "Prompt templates"):

- ``{% include %}``, ``{% import %}``, ``{% from %}`` and ``{% extends %}`` load only
  from the target's *prompts folder* (see ``PromptsFolder``): never an absolute
  path, a ``..`` step, or a link out of the folder;
- ``range()`` gives at most ``MAX_RANGE`` items;
- any text or list built on the way (by ``*``, ``+``, ``%``, ``~``, a filter, a
  method) holds at most ``MAX_TEXT`` items, and one render builds at most
  ``MAX_BUILT`` characters in all;
- the rendered text holds at most ``MAX_TEXT`` characters;
- one render takes at most ``RENDER_TIMEOUT_S`` seconds, checked as it goes (no
  signals: rendering may run off the main thread).

Going over a limit raises a ConfigError with ``what`` and ``fix``, which the
caller locates: it names the template and the case. These limits stop a runaway
template; they are not a wall against a hostile author (a template is code in
your repository: review it as code).

A variable the case does not give is a ConfigError too, naming the variables the
template reads that the case lacks (``needed``: the template's own and those of
the files it includes by name, less those it only reads under ``is defined`` or
``| default``) and the ones the case gives.

>>> folder = PromptsFolder("prompts/", (("greet.j2", "Hello {{ name }}"),))
>>> render(folder, "{% include 'greet.j2' %}!", {"name": "Ada"})
'Hello Ada!'
>>> render(folder, "{{ range(10**9) | length }}", {})
Traceback (most recent call last):
...
goldband.errors.ConfigError: calls range() with 1,000,000,000 items, over the limit of 10,000; fix: ...
>>> render(folder, "{{ input }} in {{ language }}", {"input": "Hi"})
Traceback (most recent call last):
...
goldband.errors.ConfigError: needs a variable the case does not give: language (the template reads input, ...
"""

from __future__ import annotations

import functools
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, overload

import jinja2
from jinja2 import meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

from goldband.errors import ConfigError

MAX_RANGE = 10_000  # items of one range()
MAX_TEXT = 5_000_000  # characters of the rendered text (about a million tokens), and of any value built on the way
MAX_BUILT = 50_000_000  # characters built in all by one render (operators, filters, methods, joins)
RENDER_TIMEOUT_S = 2.0  # seconds per render
MAX_FOLDER_FILES = 1_000  # files read from the prompts folder for an include named at render time
MAX_POWER_DIGITS = 10_000  # digits of an integer computed by '**'

LIMITS_FIX = "templates are sandboxed (README.md, 'Prompt templates')"


def refused(what: str, fix: str) -> ConfigError:
    """A template over a limit or out of its folder: a ConfigError the caller locates (``what`` and ``fix``)."""
    return ConfigError(what, fix=fix)


def missing(exc: jinja2.TemplateNotFound, label: str) -> str:
    """What an include of a name the prompts folder does not hold did (``ignore missing`` still skips it)."""
    if isinstance(exc, jinja2.TemplatesNotFound):
        names = ", ".join(f"'{n}'" for n in exc.templates)
        return f"includes one of {names}, none of which is in the prompts folder {label}"
    return f"includes '{exc.name}', which is not in the prompts folder {label}"


@dataclass(frozen=True)
class PromptsFolder:
    """The folder a target's templates may include from, and the text of each file they can reach.

    The prompts folder is the folder of the target's ``prompt:`` file; for a target with only inline
    ``messages:``/``system:`` it is ``prompts/`` under the project root. Its files are read once, when
    the target is built, so every render and the target's content hash see the same text.
    """

    label: str  # as shown in messages: "prompts/"
    files: tuple[tuple[str, str], ...] = ()  # (name relative to the folder, text), sorted

    def text(self, name: str) -> str | None:
        return self._index.get(name)

    @functools.cached_property
    def _index(self) -> dict[str, str]:
        return dict(self.files)


# --- rendering -----------------------------------------------------------------------------------


class _Budget:
    """What one render may still spend: time and characters built."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.built = 0


_BUDGET: ContextVar[_Budget | None] = ContextVar("goldband_template_budget", default=None)


def render(folder: PromptsFolder, text: str, variables: Mapping[str, Any]) -> str:
    """Render ``text`` within the limits: a ConfigError (no *where*) over one, a Jinja2 error otherwise."""
    template = _compiled(folder, text)
    token = _BUDGET.set(_Budget(RENDER_TIMEOUT_S))
    try:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(**variables):
            size += len(chunk)
            if size > MAX_TEXT:
                raise refused(f"renders more than {MAX_TEXT:,} characters",
                                      fix=f"render less text per case; {LIMITS_FIX}")
            parts.append(chunk)
            _tick()
        return "".join(parts)
    except jinja2.UndefinedError as exc:
        raise undefined(folder, text, variables) or exc from None
    finally:
        _BUDGET.reset(token)


def undefined(folder: PromptsFolder, text: str, variables: Mapping[str, Any]) -> ConfigError | None:
    """The error for variables the template reads and the case does not give; None when none is missing
    (an undefined attribute or item of a given variable: Jinja2's own message says which)."""
    reads, optional = needed(folder, text)
    missing = sorted(reads - optional - set(variables))
    if not missing:
        return None
    given = ", ".join(sorted(variables)) or "nothing"
    names, them = ", ".join(missing), "it" if len(missing) == 1 else "them"
    return ConfigError(
        f"needs {'a variable' if len(missing) == 1 else 'variables'} the case does not give: {names} "
        f"(the template reads {', '.join(sorted(reads))}; the case gives {given})",
        fix=f"add {names} to the case's 'input', or remove {them} from the template")


def needed(folder: PromptsFolder, text: str) -> tuple[set[str], set[str]]:
    """The variables a template reads from the case, and those among them it only reads guarded
    (``x is defined``, ``x | default(...)``): its own free variables and those of the templates it
    includes or imports by name from the folder (names it sets itself and globals such as range excluded).

    >>> folder = PromptsFolder("p/", (("a.j2", "{{ tone }}"),))
    >>> reads, guarded = needed(folder, "{% set x = 1 %}{{ q }}{{ x }}{% include 'a.j2' %}{{ n | default(3) }}")
    >>> sorted(reads), sorted(guarded)
    (['n', 'q', 'tone'], ['n'])
    """
    env = _environment(folder)
    found: set[str] = set()
    guarded: set[str] = set()
    pending, seen = [text], set()
    while pending:
        try:
            tree = env.parse(pending.pop())
        except (jinja2.TemplateSyntaxError, RecursionError):
            continue  # refused when the target was built; nothing to learn here
        found |= meta.find_undeclared_variables(tree)
        guarded |= _guarded_names(tree)
        for name, _required in references(tree):
            if name is not None and name not in seen and (included := folder.text(name)) is not None:
                seen.add(name)
                pending.append(included)
    found -= set(env.globals)
    return found, guarded & found


def _guarded_names(tree: nodes.Template) -> set[str]:
    """Names only read under ``is defined`` / ``is undefined`` / ``| default``: a case may leave them out."""
    tests = (t.node for t in tree.find_all(nodes.Test) if t.name in ("defined", "undefined"))
    filters = (f.node for f in tree.find_all(nodes.Filter) if f.name in ("default", "d"))
    return {n.name for n in (*tests, *filters) if isinstance(n, nodes.Name)}


@functools.lru_cache(maxsize=256)
def _compiled(folder: PromptsFolder, text: str) -> jinja2.Template:
    """Compile each template text once per folder, not once per case."""
    return _environment(folder).from_string(text)


@functools.lru_cache(maxsize=64)
def _environment(folder: PromptsFolder) -> _Sandbox:
    return _Sandbox(folder)


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise refused(f"took more than {budget.timeout_s:g} s to render",
                              fix=f"make the template do less work per case; {LIMITS_FIX}")


def _sized(value: Any, how: str) -> Any:
    """Count a value built by the template against the limits; return it."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        size = len(value)
        if size > MAX_TEXT:
            raise refused(f"builds a value of {size:,} items with {how}, over the limit of {MAX_TEXT:,}",
                                  fix=f"build smaller values; {LIMITS_FIX}")
        budget = _BUDGET.get()
        if budget is not None:
            budget.built += size
            if budget.built > MAX_BUILT:
                raise refused(f"builds more than {MAX_BUILT:,} characters in one render",
                                      fix=f"build less text per case; {LIMITS_FIX}")
    return value


def _over(size: int, how: str) -> None:
    """Refuse an operation before it builds a value over the limit."""
    if size > MAX_TEXT:
        raise refused(f"would build a value of {size:,} items with {how}, over the limit of {MAX_TEXT:,}",
                              fix=f"build smaller values; {LIMITS_FIX}")


# --- the sandbox ---------------------------------------------------------------------------------


class _Range(Sequence[int]):
    """A bounded ``range`` that checks the render's deadline as a loop walks it."""

    def __init__(self, items: range) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...
    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        return self._items[index]

    def __iter__(self) -> Iterator[int]:
        for i, item in enumerate(self._items):
            if not i % 64:
                _tick()
            yield item

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __repr__(self) -> str:
        return repr(self._items)


def _range(*args: int) -> _Range:
    items = range(*args)
    try:
        count = len(items)
    except OverflowError:
        count = MAX_RANGE + 1
        shown = "more than 2**63"
    else:
        shown = f"{count:,}"
    if count > MAX_RANGE:
        raise refused(f"calls range() with {shown} items, over the limit of {MAX_RANGE:,}",
                              fix=f"loop over a list from the case input, or a smaller range; {LIMITS_FIX}")
    return _Range(items)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    _over(n * max * 12, "lipsum()")
    return str(generate_lorem_ipsum(n, html, min, max))


class _Generator(CodeGenerator):
    """Jinja's code generator, with every ``~`` result counted against the limits."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.sized(")
        super().visit_Concat(node, frame)
        self.write(", \"'~'\")")


class _Sandbox(SandboxedEnvironment):
    """Jinja2's sandbox with goldband's limits and its prompts-folder loader."""

    intercepted_binops = frozenset({"*", "+", "%", "**"})
    code_generator_class = _Generator

    def __init__(self, folder: PromptsFolder) -> None:
        super().__init__(loader=_FolderLoader(folder), undefined=jinja2.StrictUndefined,
                         keep_trailing_newline=False, autoescape=False)
        self.globals["range"] = _range
        self.globals["lipsum"] = _lipsum
        self.filters = {name: _guarded(name, f) for name, f in self.filters.items()}

    def sized(self, value: Any, how: str) -> Any:
        _tick()
        return _sized(value, how)

    def concat(self, parts: Any) -> str:  # macro, block and call bodies
        parts = list(parts)
        _over(sum(len(p) for p in parts), "a block's output")
        return str(self.sized("".join(parts), "a block's output"))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_widths(_PERCENT_WIDTHS, left, "'%'")
        return _sized(super().call_binop(context, operator, left, right), f"'{operator}'")

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str) and name in _METHOD_CHECKS:
            _METHOD_CHECKS[name](owner, args, kwargs, f"str.{name}()")
        return _sized(super().call(__context, __obj, *args, **kwargs), f"{name or 'a call'}()")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` and ``format_map``, sandboxed by jinja; a huge width in the format is refused first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_widths(_BRACE_WIDTHS, value.__self__, "str.format()")
        return wrapped


def _guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that checks the deadline and counts what it builds (and refuses a known blow-up first)."""
    skip = 0 if getattr(func, "jinja_pass_arg", None) is None else 1  # context, eval context or environment first
    check = _FILTER_CHECKS.get(name)

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if check is not None and len(args) > skip:
            check(args[skip], args[skip + 1:], kwargs, f"the {name} filter")
        return _sized(func(*args, **kwargs), f"the {name} filter")

    return guarded


def _check_repeat(left: Any, right: Any) -> None:
    if isinstance(left, int) and not isinstance(right, int):
        left, right = right, left
    if isinstance(right, int) and isinstance(left, str | bytes | list | tuple):
        _over(len(left) * right, "'*'")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        digits = exponent * math.log10(abs(base))
        if digits > MAX_POWER_DIGITS:
            raise refused(f"computes a number of about {digits:,.0f} digits with '**', over the limit of "
                                  f"{MAX_POWER_DIGITS:,}", fix=f"use smaller numbers; {LIMITS_FIX}")


_PERCENT_WIDTHS = re.compile(r"%[#0 +\-]*(\d*)(?:\.(\d*))?")
_BRACE_WIDTHS = re.compile(r"\{[^{}:]*:([^{}]*)\}")


def _check_widths(pattern: re.Pattern[str], text: str, how: str) -> None:
    """A width or precision over the limit in a format string would build a huge text."""
    for match in pattern.finditer(text):
        for number in re.findall(r"\d+", "".join(g or "" for g in match.groups())):
            _over(int(number), how)


def _arg(args: Sequence[Any], kwargs: Mapping[str, Any], index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _pad(subject: Any, args: Sequence[Any], kwargs: Mapping[str, Any], how: str) -> None:
    width = _arg(args, kwargs, 0, "width", 0)
    if isinstance(width, int):
        _over(width, how)


def _indent(subject: Any, args: Sequence[Any], kwargs: Mapping[str, Any], how: str) -> None:
    width = _arg(args, kwargs, 0, "width", 4)
    step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    _over(len(str(subject)) + (str(subject).count("\n") + 1) * step, how)


def _replace(subject: Any, args: Sequence[Any], kwargs: Mapping[str, Any], how: str) -> None:
    old, new = _arg(args, kwargs, 0, "old", ""), _arg(args, kwargs, 1, "new", "")
    count = _arg(args, kwargs, 2, "count", -1)
    if isinstance(subject, str) and isinstance(old, str) and isinstance(new, str) and isinstance(count, int | None):
        times = subject.count(old) if old else len(subject) + 1
        times = times if count is None or count < 0 else min(times, count)
        _over(len(subject) + times * max(0, len(new) - len(old)), how)


def _expandtabs(subject: Any, args: Sequence[Any], kwargs: Mapping[str, Any], how: str) -> None:
    size = _arg(args, kwargs, 0, "tabsize", 8)
    if isinstance(subject, str) and isinstance(size, int):
        _over(len(subject) + subject.count("\t") * size, how)


def _join(subject: Any, args: Sequence[Any], kwargs: Mapping[str, Any], how: str) -> None:
    """``sep.join(items)`` (a method: the subject is the separator) or ``items | join(sep)`` (a filter)."""
    if how.startswith("str."):
        sep, items = subject, _arg(args, kwargs, 0, "iterable", ())
    else:
        sep, items = _arg(args, kwargs, 0, "d", ""), subject
    if isinstance(items, list | tuple):
        _over(sum(len(i) for i in items if isinstance(i, str)) + len(str(sep)) * len(items), how)


def _format(subject: Any, args: Sequence[Any], kwargs: Mapping[str, Any], how: str) -> None:
    if isinstance(subject, str):
        _check_widths(_PERCENT_WIDTHS, subject, how)


Amplifier = Callable[[Any, Sequence[Any], Mapping[str, Any], str], None]  # (subject, args, kwargs, how)
_METHOD_CHECKS: dict[str, Amplifier] = {  # str methods that can build far more than they are given
    "center": _pad, "ljust": _pad, "rjust": _pad, "zfill": _pad, "expandtabs": _expandtabs, "replace": _replace,
    "join": _join,
}
_FILTER_CHECKS: dict[str, Amplifier] = {"center": _pad, "indent": _indent, "replace": _replace, "join": _join,
                                        "format": _format}


# --- the prompts folder --------------------------------------------------------------------------


class _FolderLoader(jinja2.BaseLoader):
    """Loads included templates from the prompts folder's snapshot, and nothing else."""

    def __init__(self, folder: PromptsFolder) -> None:
        self.folder = folder

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Callable[[], bool]]:
        problem = outside(template)
        if problem:
            raise refused(f"includes '{template}', {problem}", fix=include_fix(self.folder.label))
        text = self.folder.text(template)
        if text is None:
            raise jinja2.TemplateNotFound(template)
        return text, None, lambda: True


def outside(name: str) -> str | None:
    """Why a template name points outside the prompts folder, or None."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path: templates may include only files inside their prompts folder"
    if ".." in re.split(r"[/\\]", name):
        return "a path with '..': templates may include only files inside their prompts folder"
    return None


def include_fix(label: str) -> str:
    return f"put the file inside {label} and name it relative to that folder"


def folder_of(prompt: str | None, root: Path) -> tuple[Path, str]:
    """The prompts folder of a target and its label: the ``prompt:`` file's folder, else ``prompts/``."""
    parent = PurePosixPath(prompt).parent if prompt else PurePosixPath("prompts")
    return root / parent, "the project root" if str(parent) == "." else f"{parent}/"


def snapshot(path: Path, label: str, sources: Sequence[tuple[str, str]], where: str) -> PromptsFolder:
    """Read every file the templates can reach from the prompts folder at ``path``: the ones named
    literally (and what they name, in turn), or every file in it when a name is only known at render
    time. A name outside the folder, a link out of it or a syntax error is a ConfigError at ``where``."""
    files: dict[str, str] = {}
    dynamic = False
    pending = [(name, required, source) for source, text in sources
               for name, required in references(check_syntax(text, source, where))]
    while pending:
        name, required, source = pending.pop()
        if name is None:
            dynamic = True
        elif name not in files and (text := _read(path, label, name, required, source, where)) is not None:
            files[name] = text
            pending.extend((n, r, name) for n, r in references(check_syntax(text, name, where)))
    if dynamic:
        files = {**_whole(path, label, where), **files}
    return PromptsFolder(label, tuple(sorted(files.items())))


def references(tree: nodes.Template) -> Iterator[tuple[str | None, bool]]:
    """Each template name the tree loads: (the name, or None when only known at render time; required)."""
    for node in tree.find_all((nodes.Extends, nodes.FromImport, nodes.Import, nodes.Include)):
        target = node.template  # type: ignore[attr-defined]
        optional = isinstance(node, nodes.Include) and node.ignore_missing
        if isinstance(target, nodes.Const) and isinstance(target.value, str):
            yield target.value, not optional
        elif isinstance(target, nodes.Tuple | nodes.List):
            for item in target.items:  # the first that exists is used: none is required alone
                yield (item.value if isinstance(item, nodes.Const) and isinstance(item.value, str) else None), False
        else:
            yield None, False


def check_syntax(text: str, source: str, where: str) -> nodes.Template:
    """The template's syntax tree; a syntax error is a ConfigError naming ``source`` and its line."""
    try:
        return _environment(PromptsFolder("")).parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"template syntax error in {source} line {exc.lineno}: {exc.message}",
                          where=where, fix="correct the Jinja2 syntax") from None
    except RecursionError:  # jinja2's parser recurses once per bracket: '{{ ((((...' a few hundred deep
        raise ConfigError(f"template {source} nests brackets or blocks too deeply to read", where=where,
                          fix="flatten the expression, or compute it in the case input") from None


def _read(folder: Path, label: str, name: str, required: bool, source: str, where: str) -> str | None:
    problem = outside(name)
    if problem is None and _escapes(folder / name, folder):
        problem = f"a link to a file outside {label}"
    if problem:
        raise ConfigError(f"template {source} includes '{name}', {problem}", where=where, fix=include_fix(label))
    try:
        return (folder / name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        if not required:
            return None
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"template {source} includes '{name}', which cannot be read from {label}: {reason}",
                          where=where, fix=include_fix(label)) from None


def _escapes(path: Path, folder: Path) -> bool:
    try:
        return not path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return True


def _whole(folder: Path, label: str, where: str) -> dict[str, str]:
    """Every text file in the folder (hidden ones and links out of it left out), for a computed include."""
    found: dict[str, str] = {}
    for top, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(n for n in names if not n.startswith(".")):
            path = Path(top) / name
            if _escapes(path, folder):
                continue
            if len(found) >= MAX_FOLDER_FILES:
                raise ConfigError(
                    f"a template includes a name computed at render time, so every file in {label} is read, "
                    f"and it holds more than {MAX_FOLDER_FILES:,}", where=where,
                    fix="name included templates literally ({% include 'part.j2' %}), or keep the prompts in a "
                        "folder of their own")
            try:
                found[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
    return found
