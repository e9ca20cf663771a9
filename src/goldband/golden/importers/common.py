"""What every importer shares: the imported set, unmapped items, stable ids, and writing files.

An importer reads a peer's file (OpenAI Evals, promptfoo, a CSV or JSONL table) into an
``Imported`` set: cases as plain golden-set mappings, the checks they map to, and every
item that could not be mapped as an ``Unmapped`` entry (where, what, why). ``write`` turns
it into a golden set YAML (with a JSONL beside it for large sets) whose header comment
lists the unmapped items, so nothing is dropped silently. It never overwrites a file.

>>> slug("What's the capital of France?")
'what-s-the-capital-of-france'
>>> ids = Ids()
>>> ids.generated("Hello world", 1), ids.generated("Hello world", 2), ids.generated("", 3)
('hello-world', 'hello-world-2', 'case-3')
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from goldband.errors import ConfigError

JSONL_AT = 200  # cases from which the cases go to a JSONL file beside the golden set
SLUG_MAX = 48  # characters of a generated case id (before a -2, -3 suffix)
_NOT_ID = re.compile(r"[^A-Za-z0-9]+")
ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Unmapped:
    """One item of the source that has no goldband equivalent (or only an approximate one)."""

    where: str  # file:line, or the test's index
    what: str  # the assertion or key, shortened
    why: str  # what is missing, or how the mapping differs

    def line(self) -> str:
        return f"{self.where}: {self.what} — {self.why}"


@dataclass
class Imported:
    """A golden set read from a peer's file, before it is written."""

    name: str
    source: str  # the file it came from, as shown to the user
    kind: str  # openai-evals | promptfoo | csv | jsonl
    cases: list[dict[str, Any]] = field(default_factory=list)
    description: str | None = None
    default_checks: list[dict[str, Any]] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)  # promptfoo: goldband.yaml targets
    prompts: dict[str, str] = field(default_factory=dict)  # promptfoo: project-relative path -> template text

    def skip(self, where: str, what: Any, why: str) -> None:
        self.unmapped.append(Unmapped(where, _short(what), why))


def _short(value: Any, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty one: optional sections of a peer's file."""
    return value if isinstance(value, dict) else {}


def slug(text: str) -> str:
    """A case id from text: lower case, runs of other characters as one '-', at most SLUG_MAX long."""
    full = _NOT_ID.sub("-", text.lower()).strip("-")
    if len(full) <= SLUG_MAX:
        return full
    cut = full[:SLUG_MAX + 1].rpartition("-")[0]  # whole words when there is a word boundary
    return (cut or full[:SLUG_MAX]).strip("-")


class Ids:
    """Case ids of one set: given ones checked for duplicates, missing ones generated and stable.

    A generated id is the slug of the case's text (so it survives reordering), made unique
    with -2, -3 in the order the cases come; a case with no text gets ``case-N`` (its row).
    """

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}  # id -> where it was first used

    def generated(self, text: str, row: int) -> str:
        base = slug(text) or f"case-{row}"
        candidate, n = base, 1
        while candidate in self._seen:
            n += 1
            candidate = f"{base}-{n}"
        self._seen[candidate] = f"row {row}"
        return candidate

    def given(self, value: Any, where: str) -> str:
        """A case id from the source: valid and unique, else a ConfigError naming both places."""
        text = str(value).strip() if value is not None else ""
        if not ID_OK.match(text) or len(text) > 120:
            raise ConfigError(f"case id {_short(text, 60)!r} is not a valid id", where=where,
                              expected="letters, digits, '.', '_' and '-', starting with a letter or digit",
                              fix="correct the id in the source, or leave the id column out to generate ids")
        if text in self._seen:
            raise ConfigError(f"duplicate case id {text!r} (first at {self._seen[text]})", where=where,
                              expected="unique case ids", fix="rename one of them in the source")
        self._seen[text] = where
        return text


def provenance(where: str) -> dict[str, str]:
    """Each imported case says where it came from: hand-written by someone, imported from that file:line."""
    return {"source": "hand-written", "ref": f"imported from {where}"}


def refuse_existing(paths: list[Path]) -> None:
    """All or nothing: an existing file is never overwritten."""
    existing = [p for p in paths if p.exists()]
    if existing:
        raise ConfigError(f"{', '.join(str(p) for p in existing)} already exist{'s' if len(existing) == 1 else ''}; "
                          "nothing was written", expected="files that do not exist yet",
                          fix="choose another --name or --out, or move the existing file away")


def write(imported: Imported, out: Path, *, root: Path, targets_out: Path | None = None,
          jsonl_at: int = JSONL_AT) -> list[Path]:
    """Write the golden set (and its JSONL, prompts, targets file); return the paths written.

    ``root`` is the project root: prompt paths are relative to it. Nothing is written
    when any of the files exists.
    """
    jsonl = out.with_name(f"{out.stem}.cases.jsonl") if len(imported.cases) >= jsonl_at else None
    prompts = {root / rel: text for rel, text in imported.prompts.items()}
    planned = [out, *([jsonl] if jsonl else []), *prompts, *([targets_out] if targets_out and imported.targets else [])]
    refuse_existing(planned)
    for path, text in prompts.items():
        _write_text(path, text)
    if jsonl is not None:
        _write_text(jsonl, "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in imported.cases))
    _write_text(out, golden_yaml(imported, jsonl.name if jsonl else None))
    if targets_out is not None and imported.targets:
        _write_text(targets_out, targets_yaml(imported))
    return [p for p in planned if p is not None]


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8", newline="\n") as fh:  # 'x': never replace a file made meanwhile
        fh.write(text)


def header(imported: Imported) -> str:
    """The comment at the top of the written set: where it came from, and everything not mapped."""
    day = datetime.now(UTC).date().isoformat()
    lines = [f"Imported by 'goldband import {imported.kind}' from {imported.source} on {day}.",
             "Review the checks before the first run: once results exist, an edit needs a version bump."]
    if imported.unmapped:
        lines.append(f"NOT MAPPED ({len(imported.unmapped)}): these items of the source have no goldband equivalent "
                     "(or only the approximate one noted); add checks for them by hand:")
        lines += [f"  - {u.line()}" for u in imported.unmapped]
    else:
        lines.append("Everything in the source was mapped.")
    return "".join(f"# {line}\n" for line in lines)


def golden_yaml(imported: Imported, jsonl_name: str | None) -> str:
    data: dict[str, Any] = {"name": imported.name, "version": 1}
    if imported.description:
        data["description"] = imported.description
    if imported.targets:
        data["targets"] = list(imported.targets)
    if imported.default_checks:
        data["defaults"] = {"checks": imported.default_checks}
    data["cases"] = jsonl_name if jsonl_name else imported.cases
    return header(imported) + dump(data)


def targets_yaml(imported: Imported) -> str:
    note = (f"# Targets imported from {imported.source}: merge them under 'targets:' in goldband.yaml.\n"
            "# Give each an api_key_env (the NAME of the variable holding its key) and check the params.\n")
    return note + dump({"targets": imported.targets})


def dump(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)
