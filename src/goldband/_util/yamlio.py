"""YAML loading that remembers where every value came from, and that no file can break.

Errors must name ``file:line``; plain ``yaml.safe_load`` forgets lines and
silently keeps the last of two duplicate keys. ``load`` returns the data plus
a ``Lines`` map from a path (tuple of keys and indexes) to its 1-based line.

It also trusts nothing in the file. The text is read by ``goldband._util.textio``
(UTF-8, no control characters), and composing the document is bounded:

- nesting deeper than ``MAX_DEPTH`` levels is refused;
- an alias inside the node it names (``a: &a [*a]``) is refused;
- aliases may repeat at most ``ALIAS_BUDGET`` values in all: eight levels of
  nine aliases would otherwise stand for 43 million values, and everything that
  walks the data afterwards (validation, hashing) would take hours;
- every PyYAML error keeps its mark, as ``file:line:column``.

>>> data, lines = loads("name: support\\ncases:\\n  - id: a\\n", Path("s.yaml"))
>>> data, lines.where(("cases", 0, "id"))
({'name': 'support', 'cases': [{'id': 'a'}]}, 's.yaml:3')
>>> loads("a: &a [*a]\\n", Path("s.yaml"))
Traceback (most recent call last):
goldband.errors.ConfigError: s.yaml:1:8: alias *a is inside the node it names (a recursive alias); ...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, ScalarEvent
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from goldband._util import textio
from goldband.errors import ConfigError, shorten

PathKey = tuple[str | int, ...]

MAX_DEPTH = 100  # nested mappings and lists, in every YAML and JSON file goldband reads
MAX_INT_BITS = 13_000  # about 3,900 decimal digits: Python prints no integer of more than 4,300
ALIAS_BUDGET = 100_000  # values that aliases may repeat in one file (about 2 s of validation)
_DEPTH = (f"at most {MAX_DEPTH} levels of nested mappings and lists",  # expected, fix
          "flatten the data (or close the brackets left open)")
_SURROGATE = re.compile("[\ud800-\udfff]")
_KEY_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "merge"))


@dataclass
class Lines:
    """Line numbers of values in one source file, by their path."""

    file: Path
    by_path: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        key = tuple(path)
        while key:
            if key in self.by_path:
                return self.by_path[key]
            key = key[:-1]
        return self.by_path.get((), None)

    def where(self, path: Sequence[str | int]) -> str:
        line = self.line(path)
        return f"{self.file}:{line}" if line else str(self.file)


def load(path: Path, display: Path | None = None) -> tuple[Any, Lines]:
    """Parse one YAML document from ``path``; errors name ``display`` (default ``path``):line."""
    shown = display or path
    return _parse(textio.read(path, shown, unprintable=textio.YAML_UNPRINTABLE), shown)


def relative(path: Path, root: Path) -> Path:
    """``path`` relative to ``root`` when it lies below it: shorter, clickable messages."""
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return path


def loads(text: str, path: Path) -> tuple[Any, Lines]:
    """Parse one YAML document from ``text``; errors name ``path``:line:column."""
    textio.refuse_unprintable(text, path, textio.YAML_UNPRINTABLE)
    return _parse(text, path)


def _parse(text: str, path: Path) -> tuple[Any, Lines]:
    lines = Lines(path)
    loader = _Loader(text, path)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        _index(node, (), lines, set())
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        raise _malformed(exc, path) from None
    except yaml.YAMLError as exc:  # unmarked: libyaml's own limits
        raise ConfigError(f"malformed YAML: {shorten(str(exc), 120)}", where=f"{path}:1",
                          expected="valid YAML") from None
    finally:
        loader.dispose()


def _malformed(exc: yaml.MarkedYAMLError, path: Path) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else f"{path}:1"
    what = str(exc.problem or exc.context)
    if "maximum nesting depth" in what:  # libyaml's own limit (1,000 open brackets), met before ours
        return ConfigError(f"more than {MAX_DEPTH} nested levels", where=where, expected=_DEPTH[0], fix=_DEPTH[1])
    if exc.context and what.startswith("but "):
        what = f"{exc.context}, {what}"
    elif exc.context and exc.problem and exc.context_mark and mark is not exc.context_mark:
        what += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return ConfigError(
        f"malformed YAML: {shorten(what, 160)}", where=where,
        expected="valid YAML (check indentation, quotes and colons)",
        fix="correct the syntax at that line; strings with ': ' or '#' need quotes",
    )


class _Bounded(Composer, SafeConstructor):
    """PyYAML's composer and safe constructor, with limits on depth and aliases (see the module doc)."""

    if TYPE_CHECKING:  # from the parser it is mixed with (libyaml's or PyYAML's)
        def peek_event(self) -> Any: ...
        def dispose(self) -> None: ...

    def __init__(self, file: Path) -> None:
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        self._depth = 0
        self._open: set[str] = set()  # anchors of the nodes being composed
        self._repeated = 0  # values that aliases stand for
        self._size: dict[int, int] = {}  # a collection node's expanded size, by id
        self._file = file

    def _refuse(self, what: str, mark: Any, expected: str, fix: str) -> ConfigError:
        """A limit of the loader, at its mark (PyYAML lets the ConfigError through as it is)."""
        return ConfigError(what, where=f"{self._file}:{mark.line + 1}:{mark.column + 1}", expected=expected, fix=fix)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            return self._alias(event, parent, index)
        if self._depth >= MAX_DEPTH:
            raise self._refuse(f"more than {MAX_DEPTH} nested levels", event.start_mark, *_DEPTH)
        if isinstance(event, ScalarEvent) and _SURROGATE.search(event.value):
            raise self._refuse("a \\uD800-\\uDFFF escape is half a character (a lone surrogate)", event.start_mark,
                               "whole characters", "write the character itself, or both halves of its pair")
        anchor = getattr(event, "anchor", None)
        self._depth += 1
        if anchor is not None:
            self._open.add(anchor)
        node = self._compose(parent, index)
        self._open.discard(anchor)
        self._depth -= 1
        if not isinstance(node, yaml.ScalarNode):
            self._size[id(node)] = 1 + sum(self._size.get(id(n), 1) for n in _children(node))
        return node

    def _alias(self, event: AliasEvent, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if event.anchor in self._open:
            raise self._refuse(f"alias *{shorten(str(event.anchor), 40)} is inside the node it names (a recursive "
                               "alias)", event.start_mark, "aliases to nodes that end before them",
                               "write the data out instead of nesting a node in itself")
        node = self._compose(parent, index)
        self._repeated += self._size.get(id(node), 1)
        if self._repeated > ALIAS_BUDGET:
            raise self._refuse(f"aliases repeat more than {ALIAS_BUDGET:,} values ({self._repeated:,} with alias "
                               f"*{shorten(str(event.anchor), 40)})", event.start_mark,
                               f"aliases that repeat at most {ALIAS_BUDGET:,} values in all",
                               "write the repeated data out, or put many cases in a JSONL file")
        return node

    def _compose(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        node = super().compose_node(parent, index)
        assert node is not None  # only a document without content has no node, and get_single_node checks it
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """A value Python cannot hold (a 5,000-digit integer, the 13th month) is an error at its mark."""
        try:
            value = super().construct_object(node, deep)
        except (yaml.YAMLError, ConfigError):
            raise
        except Exception as exc:  # PyYAML's constructors trust the resolver: '!!timestamp nope' is an AttributeError
            reason = shorten(str(exc).split(";")[0], 100)
            raise self._refuse(f"cannot read this value ({reason})", node.start_mark, "a value Python can hold",
                               "quote it if it is text") from None
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:  # 0xfff...: no str(), no JSON, no hash
            raise self._refuse("cannot read this value (an integer of more than 4,000 digits)", node.start_mark,
                               "a value Python can hold", "quote it if it is text")
        return value


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value)


class _PyLoader(_Bounded, Reader, Scanner, Parser, Resolver):
    """The pure-Python scanner and parser, where PyYAML was built without libyaml."""

    def __init__(self, stream: str, file: Path) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _Bounded.__init__(self, file)
        Resolver.__init__(self)


try:  # libyaml scans a 10 MB value in 0.1 s where pure Python takes 6 s; the composing stays ours
    from yaml._yaml import CParser

    class _CLoader(_Bounded, CParser, Resolver):
        def __init__(self, stream: str, file: Path) -> None:
            CParser.__init__(self, stream)
            _Bounded.__init__(self, file)
            Resolver.__init__(self)

    _Loader: Callable[[str, Path], _Bounded] = _CLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = _PyLoader


def _index(node: yaml.Node, path: PathKey, lines: Lines, done: set[int]) -> None:
    """Record the line of every value; refuse duplicate and non-scalar keys. A node that
    aliases share is walked once, at its first path: the walk stays linear in the file."""
    lines.by_path[path] = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode) or id(node) in done:
        return
    done.add(id(node))
    if isinstance(node, yaml.MappingNode):
        _index_mapping(node, path, lines, done)
    else:
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines, done)


def _index_mapping(node: yaml.MappingNode, path: PathKey, lines: Lines, done: set[int]) -> None:
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = _key(key_node, lines.file)
        line = key_node.start_mark.line + 1
        where = f"{lines.file}:{line}"
        if key in seen:
            raise ConfigError(f"duplicate key '{shorten(key)}' (first at line {seen[key]})", where=where,
                              expected="each key once per mapping", fix="remove or rename one of them")
        seen[key] = line
        lines.by_path[(*path, key)] = line
        _index(value_node, (*path, key), lines, done)
        lines.by_path[(*path, key)] = line


def _key(node: yaml.Node, file: Path) -> str:
    if isinstance(node, yaml.ScalarNode) and node.tag in _KEY_TAGS:
        return str(node.value)
    kinds: dict[type[yaml.Node], str] = {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}
    kind = kinds.get(type(node), f"a {node.tag.rsplit(':', 1)[-1]}")
    mark = node.start_mark
    raise ConfigError(f"a key must be text or a number, found {shorten(kind, 40)}",
                      where=f"{file}:{mark.line + 1}:{mark.column + 1}",
                      expected="keys like 'name:' or '1:'", fix="quote the key if it is text")
