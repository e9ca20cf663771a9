"""The review file: candidate golden cases a person accepts, edits or drops before they join a golden set.

``goldband golden candidates`` writes it (``write_review``); the reviewer sets
``accept: true`` on the cases to add and may edit ``id``, ``reference``,
``tags`` and ``checks``; ``goldband golden accept`` reads it back
(``read_review``) and appends the accepted ones (``goldband.golden.accept``).

Production text is untrusted and must survive the trip exactly: multi-line text
is written as a literal block (``|``) where YAML can hold it byte for byte, and
as a double-quoted string with escapes otherwise (control characters, tabs,
trailing spaces, the line separators U+0085/U+2028/U+2029, a carriage return).
The written text is parsed back before it replaces anything; if a value did not
survive, the file is written again with every multi-line text double-quoted (and
if that fails too, not at all). Half a surrogate pair cannot be written in UTF-8
and becomes U+FFFD.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from goldband._util import yamlio
from goldband.config.base import Strict, parse
from goldband.errors import ConfigError, shorten

__all__ = ["CASE_KEYS", "Review", "ReviewCandidate", "dump_yaml", "propose_id", "read_review", "write_review"]

# The candidate keys that become the golden case, in the order they are written (as in goldensets/*.yaml).
CASE_KEYS = ("id", "description", "input", "reference", "tags", "provenance", "targets", "runs", "min_runs",
             "max_runs", "band", "checks")
SOURCES = {"production": "prod", "failure": "fail"}
HEADER = """\
# goldband review file: candidate cases for golden set '{set_name}' ({golden_set}), from {source}.
#
# What to do:
#   - set `accept: true` on each case to add;
#   - edit id, reference (the answer the case expects), tags and checks freely;
#   - delete the rest, or leave them at `accept: false`.
# `output` and `feedback` are what production saw, shown for review: they are not part of the case.
# Then run: goldband golden accept {review}
# It appends the accepted cases, bumps the set's version and updates its lock; nothing is written if
# any accepted case is invalid.
"""
_NOT_IN_BLOCK = re.compile("[\r\x85\u2028\u2029]")  # line breaks a literal block would turn into \n
_SURROGATE = re.compile("[\ud800-\udfff]")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
_HEX = re.compile(r"^[0-9a-fA-F]{9,}$")


# --------------------------------------------------------------------------- writing


def write_review(path: Path, *, set_path: Path, set_name: str, set_version: str,
                 candidates: Sequence[Mapping[str, Any]], selection: Mapping[str, Any],
                 existing_ids: Collection[str] = (), now: dt.datetime | None = None) -> None:
    """Write the review file atomically (a temporary file, then ``os.replace``).

    ``set_path`` is written as given (relative to the project root, where ``accept``
    resolves it); ``existing_ids`` are the set's case ids, so proposed ids are new;
    ``now`` (default: the current UTC time) dates ``generated_at`` and ``provenance.added``.
    """
    now = now or dt.datetime.now(dt.UTC)
    taken = set(existing_ids)
    entries = [_entry(candidate, i, taken, now.date().isoformat()) for i, candidate in enumerate(candidates)]
    head = {"golden_set": set_path.as_posix(), "set_name": set_name, "set_version": str(set_version),
            "generated_at": now.isoformat(timespec="seconds"), "selection": _clean(dict(selection))}
    header = HEADER.format(set_name=set_name, golden_set=set_path.as_posix(),
                           source=selection.get("source", "production"), review=path.as_posix())
    data = {**head, "candidates": entries}
    text = header + _render(head, entries, block=True)
    if not _survives(text, data, path):
        text = header + _render(head, entries, block=False)
        if not _survives(text, data, path):
            raise ConfigError("a candidate's text cannot be written to a review file exactly", where=str(path),
                              fix="report this to goldband with the trace; the review file was not written")
    _replace(path, text)


def propose_id(source: str, ref: str | None, taken: Collection[str]) -> str:
    """An id matching the golden set's pattern and not in ``taken``: ``prod-8f21a9c0`` from a trace id.

    >>> propose_id("production", "8f21a9c0d1e2f3a4b5c6", ())
    'prod-8f21a9c0'
    >>> propose_id("failure", "failures.jsonl:12", {"fail-failures.jsonl-12"})
    'fail-failures.jsonl-12-2'
    """
    prefix = SOURCES.get(source, _ID_UNSAFE.sub("-", source).strip("-.") or "case")
    tail = _ID_UNSAFE.sub("-", ref or "").strip("-.")
    tail = tail[:8].lower() if _HEX.match(tail) else tail[:60]
    return _unique(f"{prefix}-{tail}" if tail else prefix, taken)


def _unique(base: str, taken: Collection[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... the first not in ``taken``."""
    proposed, n = base, 1
    while proposed in taken:
        n += 1
        proposed = f"{base}-{n}"
    return proposed


def _entry(candidate: Mapping[str, Any], index: int, taken: set[str], today: str) -> dict[str, Any]:
    """One candidate as written: review keys first, then the case keys."""
    if "input" not in candidate or "provenance" not in candidate:
        raise ValueError(f"candidate {index} needs 'input' and 'provenance', has {sorted(candidate)}")
    provenance = {k: v for k, v in dict(candidate["provenance"]).items() if v is not None}
    provenance.setdefault("added", today)
    given = candidate.get("id")
    if isinstance(given, str) and given:
        case_id = _unique(given, taken)
    else:
        case_id = propose_id(str(provenance.get("source", "production")), provenance.get("ref"), taken)
    taken.add(case_id)
    feedback = candidate.get("feedback") or []
    entry = {
        "accept": False, "id": case_id, "input": _input(candidate["input"]), "output": candidate.get("output"),
        "feedback": list(feedback) if isinstance(feedback, list | tuple) else [feedback],
        "reference": candidate.get("reference"), "tags": list(candidate.get("tags") or ()),
        "checks": list(candidate.get("checks") or ()), "provenance": provenance,
    }
    return {key: _clean(value) for key, value in entry.items()}


def _input(value: Any) -> Any:
    """A case's input is variables or messages; text alone becomes one user message."""
    return [{"role": "user", "content": value}] if isinstance(value, str) else value


def _clean(value: Any) -> Any:
    """Tuples as lists and half surrogate pairs as U+FFFD: what YAML in UTF-8 can hold."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line text as literal blocks where they hold it exactly."""

    block = True


def _text(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    """A literal block for multi-line text; double quotes for text with a line break that any other style
    would fold or normalise (PyYAML would write a lone U+0085 in single quotes, and read it back as a space)."""
    style = None
    if _NOT_IN_BLOCK.search(value) or ("\n" in value and not dumper.block):
        style = '"'
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump_yaml(value: Any, *, block: bool = True) -> str:
    """``value`` as safe YAML, multi-line text as literal blocks when ``block`` (see the module doc).

    PyYAML ends a document whose last text keeps its trailing blank lines (``|+``) with ``...``; that
    marker is dropped, so the text can be followed by more YAML at a lower indentation.
    """
    dumper = type("_D", (_Dumper,), {"block": block})
    text = yaml.dump(value, Dumper=dumper, allow_unicode=True, sort_keys=False, width=2**30,
                     default_flow_style=False)
    return text.removesuffix("...\n")


def _render(head: dict[str, Any], entries: list[dict[str, Any]], *, block: bool) -> str:
    """The head, then each candidate as its own list item, a blank line between them (easier to read)."""
    text = dump_yaml(head, block=block)
    if not entries:
        return text + "candidates: []\n"
    text += "candidates:\n"
    for i, entry in enumerate(entries):
        if i and not text.endswith("\n\n"):  # a blank line after a |+ text would become part of it
            text += "\n"
        text += dump_yaml([entry], block=block)
    return text


def _survives(text: str, data: dict[str, Any], path: Path) -> bool:
    """Whether goldband's own loader reads ``text`` back as ``data``, exactly."""
    try:
        back, _ = yamlio.loads(text, path)
    except ConfigError:
        return False
    return bool(back == data)


def _replace(path: Path, text: str) -> None:
    """A temporary file beside ``path``, then ``os.replace``: a reader never sees half a review file.
    (Opened with ``x`` rather than ``mkstemp``, so the file gets the usual permissions, not 0600.)"""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("x", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write review file: {exc.strerror}", where=str(path),
                          fix="choose a writable path") from None


# --------------------------------------------------------------------------- reading


class _Candidate(Strict):
    """The keys a candidate may have; the case keys' values are checked by the golden set's loader on accept."""

    accept: bool = False
    id: str
    input: Any
    output: str | None = None
    feedback: list[Any] = Field(default_factory=list)
    reference: str | None = None
    tags: list[Any] = Field(default_factory=list)
    checks: list[Any] = Field(default_factory=list)
    provenance: dict[str, Any]
    description: Any = None
    targets: Any = None
    runs: Any = None
    min_runs: Any = None
    max_runs: Any = None
    band: Any = None


class _Head(Strict):
    golden_set: str
    set_name: str
    set_version: str | int
    generated_at: str | dt.datetime
    selection: dict[str, Any] = Field(default_factory=dict)
    candidates: list[Any]


@dataclass(frozen=True)
class ReviewCandidate:
    """One candidate as read back: ``case`` is the golden case it becomes if accepted."""

    index: int  # its position under ``candidates:``
    line: int | None
    accept: bool
    id: str
    case: dict[str, Any]
    output: str | None
    feedback: tuple[Any, ...]


@dataclass(frozen=True)
class Review:
    path: Path  # as shown in messages
    golden_set: str  # as written: relative to the project root
    set_name: str
    set_version: str
    generated_at: str
    selection: dict[str, Any]
    candidates: tuple[ReviewCandidate, ...]
    lines: yamlio.Lines

    @property
    def accepted(self) -> tuple[ReviewCandidate, ...]:
        return tuple(c for c in self.candidates if c.accept)

    def where(self, candidate: ReviewCandidate, *field: str | int) -> str:
        """``review.yaml:LINE: candidate 'ID'``, at ``field`` of the candidate when given."""
        return f"{self.lines.where(('candidates', candidate.index, *field))}: candidate '{shorten(candidate.id, 60)}'"


def read_review(path: Path, display: Path | None = None) -> Review:
    """Read and check a review file with goldband's safe loader; errors name ``display``:line and the candidate."""
    raw, lines = yamlio.load(path, display)
    if not isinstance(raw, dict):
        raise ConfigError("a review file must be a mapping", where=f"{lines.file}:1",
                          expected="keys golden_set, set_name, set_version, candidates",
                          fix="write it again with goldband golden candidates")
    head: _Head = parse(_Head, raw, lines)
    candidates = tuple(_candidate(entry, i, lines) for i, entry in enumerate(head.candidates))
    return Review(path=lines.file, golden_set=head.golden_set, set_name=head.set_name,
                  set_version=str(head.set_version), generated_at=str(head.generated_at),
                  selection=head.selection, candidates=candidates, lines=lines)


def _candidate(entry: Any, index: int, lines: yamlio.Lines) -> ReviewCandidate:
    at = ("candidates", index)
    if not isinstance(entry, dict):
        raise ConfigError("a candidate must be a mapping", where=lines.where(at),
                          expected="keys accept, id, input, reference, tags, checks, provenance")
    try:
        model: _Candidate = parse(_Candidate, entry, lines, at)
    except ConfigError as exc:
        raise _named(exc, entry.get("id")) from None
    given = model.model_fields_set | {"id", "input", "provenance"}
    case = {key: getattr(model, key) for key in CASE_KEYS if key in given}
    case["provenance"] = {k: _iso(v) for k, v in model.provenance.items()}
    for key in ("tags", "checks"):
        if not case.get(key):
            case.pop(key, None)
    if case.get("reference") is None:
        case.pop("reference", None)
    return ReviewCandidate(index=index, line=lines.line(at), accept=model.accept, id=model.id, case=case,
                           output=model.output, feedback=tuple(model.feedback))


def _named(exc: ConfigError, case_id: Any) -> ConfigError:
    if not isinstance(case_id, str) or not case_id or exc.where is None:
        return exc
    return ConfigError(exc.what, where=f"{exc.where}: candidate '{shorten(case_id, 60)}'", expected=exc.expected,
                       fix=exc.fix)


def _iso(value: Any) -> Any:
    """``added: 2026-12-07`` typed without quotes reads as a date: keep it as the text it was."""
    return value.isoformat() if isinstance(value, dt.date) else value
