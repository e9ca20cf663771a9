"""Cassettes: recorded provider responses, one JSONL line per sample.

A cassette is keyed by the request's content (model, messages, params) and
the *sample index*, so the five repeats of a case stay five distinct samples.
It holds no API keys or auth headers: only what the request and reply said.
A conversation case records one entry per turn (``turn``: 1, 2, ...), each keyed
by its whole message list, earlier replies included
(``goldband.engine.conversation``).
The same format backs the ``cached`` mode (under ``.goldband/cache``).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from goldband._util.hashing import canonical_hash
from goldband.results import Completion


def request_key(model: str, messages: list[dict[str, Any]], params: dict[str, Any], sample: int) -> str:
    """The cassette key: what was asked, and which sample of it."""
    return canonical_hash({"model": model, "messages": messages, "params": params, "sample": sample})


@dataclass
class Cassette:
    """A JSONL file of recorded samples; loads lazily, appends durably."""

    path: Path
    _entries: dict[str, dict[str, Any]] | None = field(default=None, repr=False)
    _dirty: bool = False

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            self._entries = _read(self.path)
        return self._entries

    def get(self, key: str) -> Completion | None:
        entry = self.entries.get(key)
        return Completion.from_json(entry["completion"]) if entry else None

    def near_miss(self, case_id: str, sample: int, turn: int | None = None) -> bool:
        """True when this case and sample (and conversation turn, when given) were recorded for a different
        request."""
        return any(e.get("case") == case_id and e.get("sample") == sample and (turn is None or e.get("turn") == turn)
                   for e in self.entries.values())

    def put(self, key: str, record: dict[str, Any], completion: Completion) -> None:
        """Append one sample now (flushed), so a killed run keeps what it recorded."""
        entry = {"key": key, **record, "completion": completion.to_json()}
        self.entries[key] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        self._dirty = True

    def compact(self) -> None:
        """Rewrite without superseded lines, in a stable order (clean diffs)."""
        if not self._dirty:
            return
        ordered = sorted(self.entries.values(),
                         key=lambda e: (e.get("case", ""), e.get("sample", 0), e.get("turn", 0), e["key"]))
        text = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in ordered)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, self.path)
        self._dirty = False


def _read(path: Path) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return entries
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed run; the rest is intact
            if isinstance(entry, dict) and "key" in entry and "completion" in entry:
                entries[entry["key"]] = entry
    return entries


class CassetteLibrary:
    """Open cassettes by path, once each, and compact them at the end."""

    def __init__(self) -> None:
        self._open: dict[Path, Cassette] = {}

    def get(self, path: Path) -> Cassette:
        if path not in self._open:
            self._open[path] = Cassette(path)
        return self._open[path]

    def close(self) -> None:
        for cassette in self._open.values():
            cassette.compact()
