"""YAML loading that remembers where every value came from.

Errors must name ``file:line``; plain ``yaml.safe_load`` forgets lines and
silently keeps the last of two duplicate keys. ``load`` returns the data plus
a ``Lines`` map from a path (tuple of keys and indexes) to its 1-based line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from goldband.errors import ConfigError

PathKey = tuple[str | int, ...]


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
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", where=str(display or path)) from None
    return loads(text, display or path)


def relative(path: Path, root: Path) -> Path:
    """``path`` relative to ``root`` when it lies below it: shorter, clickable messages."""
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return path


def loads(text: str, path: Path) -> tuple[Any, Lines]:
    lines = Lines(path)
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, lines
            _index(node, (), lines, path)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(
            f"malformed YAML: {exc.problem or exc.context}",
            where=loc,
            expected="valid YAML (check indentation, quotes and colons)",
            fix="correct the syntax at that line; strings with ': ' or '#' need quotes",
        ) from None
    return data, lines


def _index(node: yaml.Node, path: PathKey, lines: Lines, file: Path) -> None:
    lines.by_path[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"duplicate key '{key}' (first at line {seen[key]})",
                    where=f"{file}:{line}",
                    expected="each key once per mapping",
                    fix="remove or rename one of them",
                )
            seen[key] = line
            lines.by_path[(*path, key)] = line
            _index(value_node, (*path, key), lines, file)
            lines.by_path[(*path, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines, file)


def load_jsonl(path: Path, display: Path | None = None) -> tuple[list[Any], Lines]:
    """Parse a JSONL file; each record's line is its path ``(index,)``."""
    lines = Lines(display or path)
    records: list[Any] = []
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read cases file: {exc.strerror}",
            where=str(display or path),
            fix="create it, or put the cases inline under 'cases:'",
        ) from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                records.append(json.loads(raw.rstrip("\r\n")))  # columns count on this line
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"malformed JSON: {exc.msg} at column {exc.colno}",
                    where=f"{display or path}:{number}",
                    expected="one JSON object per line",
                    fix="correct that line (a JSONL file holds one case per line)",
                ) from None
            lines.by_path[(len(records) - 1,)] = number
    return records, lines
