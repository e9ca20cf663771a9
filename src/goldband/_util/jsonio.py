"""JSON, JSONL and TOML loading with the same guarantees as ``goldband._util.yamlio``.

The text is read by ``goldband._util.textio`` (UTF-8, no control characters);
nesting deeper than ``yamlio.MAX_DEPTH`` levels is refused before Python's
parsers recurse into it; a value Python cannot hold (an integer of 5,000
digits, half a surrogate pair) is refused; every error is a ``ConfigError``
naming ``file:line:column``.

>>> loads('{"a": [1, 2]}', "x.json")
{'a': [1, 2]}
>>> loads('{"a": [1, 2}', "x.json")
Traceback (most recent call last):
goldband.errors.ConfigError: x.json:1:12: malformed JSON: Expecting ',' delimiter; expected valid JSON; ...
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from goldband._util import textio
from goldband._util.yamlio import MAX_DEPTH, MAX_INT_BITS, Lines
from goldband.errors import ConfigError, shorten

# A \uD800-\uDFFF escape that is not part of a pair (a lone surrogate; confirmed on the parsed value).
_LONE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
                   r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{}]')  # strings (skipped) and brackets
_LONG_NUMBER = re.compile(r"[0-9_]{4000,}")
_LONG_RADIX = re.compile(r"0[xob][0-9A-Fa-f_]{1000,}")
_TOML_AT = re.compile(r" \(at line (\d+), column (\d+)\)$")
_TOML_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*[.=]""")
_TOML_TABLE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")


def load(path: Path, display: object = None, *, cannot: str = "cannot read file", fix: str | None = None) -> Any:
    """Parse one JSON document from ``path``; errors name ``display`` (default ``path``):line:column."""
    shown = display or path
    return loads(textio.read(path, shown, cannot=cannot, fix=fix), shown)


def loads(text: str, shown: object, first_line: int = 1) -> Any:
    """Parse one JSON document; ``first_line`` is the line of ``text`` in its file (JSONL)."""
    if text.count("[") + text.count("{") > MAX_DEPTH and (deep := _too_deep(text)) is not None:
        line, column = textio.position(text, deep)
        raise ConfigError(f"more than {MAX_DEPTH} nested levels", where=f"{shown}:{line + first_line - 1}:{column}",
                          expected=f"at most {MAX_DEPTH} levels of nested objects and lists",
                          fix="flatten the data")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"malformed JSON: {exc.msg}", where=f"{shown}:{exc.lineno + first_line - 1}:{exc.colno}",
                          expected="valid JSON", fix="correct the syntax there") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4,300 digits
        at = _LONG_NUMBER.search(text)
        line, column = textio.position(text, at.start()) if at else (1, 1)
        raise ConfigError(f"cannot read a value ({shorten(str(exc).split(';')[0], 100)})",
                          where=f"{shown}:{line + first_line - 1}:{column}", expected="numbers Python can hold",
                          fix="quote long digit strings") from None
    if (lone := _LONE.search(text)) is not None and _has_surrogate(value):
        line, column = textio.position(text, lone.start())
        raise ConfigError("a \\uD800-\\uDFFF escape is half a character (a lone surrogate)",
                          where=f"{shown}:{line + first_line - 1}:{column}", expected="whole characters",
                          fix="write the character itself, or both halves of its pair")
    return value


def load_jsonl(path: Path, display: Path | None = None, *, cannot: str = "cannot read cases file",
               fix: str | None = "create it, or put the cases inline under 'cases:'") -> tuple[list[Any], Lines]:
    """Parse a JSONL file; each record's line is its path ``(index,)``. Only ``\\n`` ends a line
    (a U+2028 inside a string does not)."""
    shown = display or path
    lines = Lines(Path(str(shown)))
    records: list[Any] = []
    for number, raw in enumerate(textio.read(path, shown, cannot=cannot, fix=fix).split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            records.append(loads(raw.removesuffix("\r"), shown, number))
        except ConfigError as exc:
            raise ConfigError(exc.what, where=exc.where, expected="one JSON object per line",
                              fix="correct that line (a JSONL file holds one record per line)") from None
        lines.by_path[(len(records) - 1,)] = number
    return records, lines


def _too_deep(text: str) -> int | None:
    """The index of the first bracket nested deeper than ``MAX_DEPTH`` (strings skipped), if any."""
    depth = 0
    for token in _TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return token.start()
        elif char in "]}":
            depth -= 1
    return None


def _has_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= c <= "\udfff" for c in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def load_toml(path: Path, display: object, table: tuple[str, ...] = ()) -> tuple[dict[str, Any], Lines]:
    """Parse a TOML file; the ``Lines`` are those of the keys under ``table`` (e.g. ``("tool", "goldband")``),
    found line by line, since tomllib keeps no positions."""
    shown = display or path
    text = textio.read(path, shown)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _TOML_AT.search(message)
        where = f"{shown}:{at.group(1)}:{at.group(2)}" if at else f"{shown}:1"
        raise ConfigError(f"malformed TOML: {shorten(_TOML_AT.sub('', message), 160)}", where=where,
                          expected="valid TOML", fix="correct the syntax there") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        at = _LONG_NUMBER.search(text)
        line, column = textio.position(text, at.start()) if at else (1, 1)
        raise ConfigError(f"cannot read a value ({shorten(str(exc).split(';')[0], 100)})",
                          where=f"{shown}:{line}:{column}", expected="numbers Python can hold",
                          fix="quote long digit strings") from None
    except RecursionError:
        deep = _too_deep(text)
        line, column = textio.position(text, deep) if deep is not None else (1, 1)
        raise ConfigError(f"more than {MAX_DEPTH} nested levels", where=f"{shown}:{line}:{column}",
                          expected=f"at most {MAX_DEPTH} levels of nested tables and arrays",
                          fix="flatten the data") from None
    if _huge_int(data):  # 0xfff... in hex: read, but no str(), no JSON, no hash
        at = _LONG_RADIX.search(text)
        line, column = textio.position(text, at.start()) if at else (1, 1)
        raise ConfigError("cannot read a value (an integer of more than 4,000 digits)",
                          where=f"{shown}:{line}:{column}", expected="numbers Python can hold",
                          fix="quote long digit strings")
    return data, toml_lines(text, Path(str(shown)), table)


def _huge_int(value: Any) -> bool:
    """Whether an integer too long to print sits anywhere in TOML's nested tables and arrays."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, int) and item.bit_length() > MAX_INT_BITS:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def toml_lines(text: str, file: Path, table: tuple[str, ...]) -> Lines:
    """The lines of ``table``'s header and of the keys and sub-tables below it (dotted keys by their first part)."""
    lines = Lines(file)
    current: tuple[str, ...] | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        if (header := _TOML_TABLE.match(raw)) is not None:
            parts = tuple(p.strip().strip("\"'") for p in header.group(1).split("."))
            current = parts[len(table):] if parts[:len(table)] == table else None
            if current is not None:
                lines.by_path.setdefault(current, number)
        elif current is not None and (key := _TOML_KEY.match(raw)) is not None:
            lines.by_path.setdefault((*current, key.group(1).strip("\"'")), number)
    return lines
