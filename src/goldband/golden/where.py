"""The ``--where`` filter of ``goldband golden candidates``: a small, safe expression language.

``feedback=negative OR check_failed OR judge_score<3`` is parsed once into a tree
(a recursive-descent parser; nothing is ever ``eval``-ed) and then tested
against each record, a mapping of field name to value::

    expression := or
    or         := and ("OR" and)*
    and        := not ("AND" not)*
    not        := "NOT" not | "(" or ")" | field [operator value]
    operator   := "=" | "!=" | "<" | "<=" | ">" | ">=" | "~"
    value      := number | "double-quoted" (JSON escapes) | 'single-quoted' | bare-word | true | false | null

``OR``, ``AND`` and ``NOT`` are case-insensitive. A bare ``field`` is true when
the record's value is truthy. Each field has a type, fixed by the caller:
``number`` (compare with numbers), ``text`` (``=``/``!=`` exact, ``<``... in text
order, ``~`` a case-insensitive substring) or ``bool`` (``= true``/``= false``).

A missing or ``None`` value never matches a comparison (``!=`` included, as in
SQL) and is falsy, so ``NOT judge_score>=3`` also picks records with no judge
score while ``judge_score<3`` does not. A list value (several feedback labels)
matches when any of its items does. ``field = null`` matches a missing value,
``field != null`` a present one.

>>> where = parse_where("feedback=negative OR judge_score<3", fields={"feedback": "text", "judge_score": "number"})
>>> where.matches({"feedback": ["positive", "negative"]}), where.matches({"judge_score": 4.5})
(True, False)
>>> str(where)
'feedback = "negative" OR judge_score < 3'
>>> parse_where("judge_scor < 3", fields={"judge_score": "number"})
Traceback (most recent call last):
goldband.errors.ConfigError: --where, column 1: unknown field 'judge_scor'; expected one of: judge_score; ...
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from goldband.errors import ConfigError, shorten

__all__ = ["FIELD_TYPES", "And", "Compare", "Node", "Not", "Or", "Truthy", "Where", "parse_where"]

FIELD_TYPES = ("number", "text", "bool")
MAX_DEPTH = 50  # nested parentheses and NOTs: a bound, so no input can exhaust Python's stack
Scalar = float | int | str | bool | None
Test = Callable[[Mapping[str, Any]], bool]

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<op><=|>=|!=|=|<|>|~)
  | (?P<paren>[()])
  | (?P<dstring>"(?:[^"\\]|\\.)*")
  | (?P<sstring>'[^']*')
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![^\s()=!<>~"']))
  | (?P<word>[^\s()=!<>~"']+)
""", re.VERBOSE)
_FIELD = re.compile(r"^[A-Za-z0-9_.]+$")
_KEYWORDS = {"or": "OR", "and": "AND", "not": "NOT"}
_LITERALS: dict[str, Scalar] = {"true": True, "false": False, "null": None}


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Compare:
    """``field op value``; ``value`` is a number, a text, a bool or None (``null``)."""

    field: str
    op: str
    value: Scalar

    def __str__(self) -> str:
        return f"{self.field} {self.op} {_render(self.value)}"


@dataclass(frozen=True)
class Truthy:
    """A bare ``field``: true when the record's value is truthy."""

    field: str

    def __str__(self) -> str:
        return self.field


@dataclass(frozen=True)
class Not:
    item: Node

    def __str__(self) -> str:
        return f"NOT {_wrap(self.item, (Or, And))}"


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return " AND ".join(_wrap(item, (Or, And)) for item in self.items)


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(_wrap(item, (Or,)) for item in self.items)


Node = Compare | Truthy | Not | And | Or


def _wrap(node: Node, kinds: tuple[type, ...]) -> str:
    """Parentheses where the text would otherwise parse into another tree (``(a AND b) AND c`` stays nested)."""
    return f"({node})" if isinstance(node, kinds) else str(node)


def _render(value: Scalar) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


# --------------------------------------------------------------------------- the parsed filter


@dataclass(frozen=True)
class Where:
    """A parsed filter: ``matches(record)`` tests one record; ``text`` is what the user typed."""

    text: str
    tree: Node
    fields: frozenset[str]  # the fields the expression reads (compute only these)
    _test: Test = field(compare=False, repr=False)

    def matches(self, record: Mapping[str, Any]) -> bool:
        return self._test(record)

    def __str__(self) -> str:
        return str(self.tree)


def parse_where(text: str, *, fields: Mapping[str, str]) -> Where:
    """Parse ``text`` against the allowed ``fields`` (name -> "number" | "text" | "bool").

    Raises ConfigError naming ``--where, column N`` for a syntax error, an unknown
    field (with the closest name) or a value of the wrong type.
    """
    bad = sorted(k for k, v in fields.items() if v not in FIELD_TYPES)
    if bad:
        raise ValueError(f"field types must be one of {FIELD_TYPES}; {bad[0]!r} is {fields[bad[0]]!r}")
    tree = _Parser(text, fields).parse()
    return Where(text=text, tree=tree, fields=frozenset(_fields(tree)), _test=_compile(tree, fields))


def _fields(node: Node) -> list[str]:
    if isinstance(node, Compare | Truthy):
        return [node.field]
    if isinstance(node, Not):
        return _fields(node.item)
    return [name for item in node.items for name in _fields(item)]


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Token:
    kind: str  # op | paren | string | number | word | keyword | end
    text: str
    column: int  # 1-based
    value: Scalar = None


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    at = 0
    while at < len(text):
        found = _TOKEN.match(text, at)
        if found is None and text[at] in "\"'":
            raise _error(f"unterminated quoted text {shorten(text[at:], 30)!r}", at + 1,
                         "a closing quote", "close the quote")
        if found is None:  # a lone '!'
            raise _error(f"unexpected {text[at]!r}", at + 1, "an operator: =, !=, <, <=, >, >= or ~")
        kind, raw = found.lastgroup or "", found.group()
        if kind != "space":
            tokens.append(_token(kind, raw, at + 1))
        at = found.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


def _token(kind: str, raw: str, column: int) -> _Token:
    if kind == "dstring":
        try:
            return _Token("string", raw, column, json.loads(raw))
        except ValueError:
            raise _error(f"bad escape in {shorten(raw, 30)}", column, "JSON escapes such as \\\" \\\\ \\n",
                         "escape a backslash as \\\\, or use single quotes") from None
    if kind == "sstring":
        return _Token("string", raw, column, raw[1:-1])
    if kind == "number":
        number = float(raw) if any(c in raw for c in ".eE") else int(raw)
        if isinstance(number, float) and not math.isfinite(number):
            raise _error(f"number {shorten(raw, 30)} is out of range", column, "a finite number", "use a smaller one")
        return _Token("number", raw, column, number)
    if kind == "word" and raw.lower() in _KEYWORDS:
        return _Token("keyword", _KEYWORDS[raw.lower()], column)
    return _Token(kind, raw, column)


def _error(what: str, column: int, expected: str, fix: str | None = None) -> ConfigError:
    return ConfigError(what, where=f"--where, column {column}", expected=expected, fix=fix)


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, str]) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.fields = fields
        self.depth = 0

    @property
    def next(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Node:
        if self.next.kind == "end":
            raise _error("empty expression", 1, "a condition such as feedback=negative OR judge_score<3")
        node = self.any()
        if self.next.kind != "end":
            raise _error(f"unexpected {self.shown(self.next)}", self.next.column,
                         "OR, AND or the end of the expression", "join conditions with OR or AND")
        return node

    def any(self) -> Node:
        items = [self.all()]
        while self.next.kind == "keyword" and self.next.text == "OR":
            self.take()
            items.append(self.all())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def all(self) -> Node:
        items = [self.one()]
        while self.next.kind == "keyword" and self.next.text == "AND":
            self.take()
            items.append(self.one())
        return items[0] if len(items) == 1 else And(tuple(items))

    def one(self) -> Node:
        token = self.take()
        if token.kind == "keyword" and token.text == "NOT":
            return Not(self.nested(token, self.one))
        if token.kind == "paren" and token.text == "(":
            node = self.nested(token, self.any)
            close = self.take()
            if close.text != ")":
                raise _error(f"unexpected {self.shown(close)}", close.column, f"')' to close the '(' at column "
                             f"{token.column}", "add the closing parenthesis")
            return node
        return self.condition(token)

    def nested(self, token: _Token, parse: Callable[[], Node]) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(f"more than {MAX_DEPTH} nested parentheses or NOTs", token.column,
                         f"at most {MAX_DEPTH} levels", "simplify the expression")
        node = parse()
        self.depth -= 1
        return node

    def condition(self, token: _Token) -> Node:
        if token.kind not in ("word", "number") or not _FIELD.match(token.text):
            raise _error(f"unexpected {self.shown(token)}", token.column, "a field name, NOT or '('",
                         f"start a condition with a field: {', '.join(sorted(self.fields))}")
        kind = self.field_type(token)
        if self.next.kind != "op":
            return Truthy(token.text)
        op = self.take()
        value = self.value(op)
        _check_type(token.text, kind, op, value)
        return Compare(token.text, op.text, _value(value, kind))

    def field_type(self, token: _Token) -> str:
        if token.text in self.fields:
            return self.fields[token.text]
        close = difflib.get_close_matches(token.text, list(self.fields), n=1)
        raise _error(f"unknown field {shorten(token.text, 40)!r}", token.column,
                     f"one of: {', '.join(sorted(self.fields))}",
                     f"did you mean {close[0]!r}?" if close else "use one of the fields listed")

    def value(self, op: _Token) -> _Token:
        token = self.take()
        if token.kind in ("string", "number", "word"):
            return token
        raise _error(f"expected a value after {op.text!r}, found {self.shown(token)}", token.column,
                     "a number, a quoted text, a word, true, false or null")

    @staticmethod
    def shown(token: _Token) -> str:
        return "end of expression" if token.kind == "end" else repr(shorten(token.text, 30))


def _word(token: _Token) -> Scalar:
    """A bare word: true, false, null, or itself as text."""
    return _LITERALS.get(token.text.lower(), token.text)


def _value(token: _Token, kind: str) -> Scalar:
    """The value of ``token`` for a field of ``kind``: on a text field an unquoted number or word is its text."""
    value = _word(token) if token.kind == "word" else token.value
    if kind == "text" and token.kind != "string" and value is not None:
        return token.text
    return value


def _check_type(field: str, kind: str, op: _Token, token: _Token) -> None:
    """A value must suit its field: ``judge_score<abc`` is a mistake, not an empty result."""
    value = _value(token, kind)
    if value is None:
        if op.text not in ("=", "!="):
            raise _error(f"null can only be compared with = or !=, not {op.text!r}", op.column, "= null or != null")
        return
    expected = {"number": "a number", "text": "a text", "bool": "true or false"}[kind]
    fits = {"number": isinstance(value, int | float) and not isinstance(value, bool),
            "text": isinstance(value, str), "bool": isinstance(value, bool)}[kind]
    if not fits:
        raise _error(f"field {field!r} is {kind}, but {shorten(token.text, 30)!r} is not", token.column, expected)
    if op.text == "~" and kind != "text":
        raise _error(f"'~' (contains) needs a text field; {field!r} is {kind}", op.column, "=, !=, <, <=, > or >=")
    if kind == "bool" and op.text not in ("=", "!="):
        raise _error(f"{op.text!r} cannot compare true and false", op.column, "= or !=")


# --------------------------------------------------------------------------- evaluation


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "~": lambda a, b: b in a,
}
def _compile(node: Node, fields: Mapping[str, str]) -> Test:
    """The tree as nested closures: one call per node and record, no tree walk at match time."""
    if isinstance(node, Or | And):  # loops, not any()/all() over a generator: a third of the time per record
        parts = [_compile(item, fields) for item in node.items]
        want = isinstance(node, Or)

        def join(record: Mapping[str, Any]) -> bool:
            for part in parts:
                if part(record) is want:
                    return want
            return not want

        return join
    if isinstance(node, Not):
        inner = _compile(node.item, fields)
        return lambda record: not inner(record)
    if isinstance(node, Truthy):
        name = node.field
        return lambda record: bool(record.get(name))
    return _comparison(node, fields[node.field])


def _comparison(node: Compare, kind: str) -> Test:
    name, value, convert, compare = node.field, node.value, _CONVERT[kind], _ORDER[node.op]
    if value is None:
        present = node.op == "!="
        return lambda record: (record.get(name) is not None) is present
    fold = node.op == "~"
    if fold:
        value = str(value).casefold()

    def one(item: Any) -> bool:
        item = convert(item)
        if item is None:
            return False
        return compare(item.casefold() if fold else item, value)

    def test(record: Mapping[str, Any]) -> bool:
        found = record.get(name)
        if isinstance(found, list | tuple | set | frozenset):
            return any(one(item) for item in found)
        return bool(one(found))

    return test


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool | dict):
        return None
    return value if isinstance(value, str) else str(value)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


_CONVERT: dict[str, Callable[[Any], Any]] = {"number": _number, "text": _text, "bool": _bool}
