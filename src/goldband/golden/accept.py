"""``goldband golden accept REVIEW``: the accepted candidates of a review file join their golden set.

Each candidate with ``accept: true`` becomes a case (its ``id``, ``input``,
``reference``, ``tags``, ``checks``, ``provenance`` and any other case key the
reviewer added; never ``output``, ``feedback`` or ``accept``). Then:

1. The new files are written to a temporary folder beside the set: the YAML
   with its ``version`` bumped and, for inline cases, the new cases appended at
   the end of the ``cases:`` list, every other byte of the file as it was
   (comments included); for a JSONL set, the JSONL with one line per new case.
2. That copy is loaded by the golden set's own loader (``goldenset.load``), so
   every rule applies (id pattern, duplicate ids, check specs, input shape); an
   error names the review file's line and the candidate, then the loader's
   message. The copy must also read back as the old cases unchanged plus the
   new ones.
3. Only then are the files replaced (``os.replace``; the JSONL before the YAML,
   so a crash in between leaves changed cases under the old version, which the
   next run reports, never a new version without its cases), and the lock
   records the new version's hash last (a crash before that only leaves the
   version to be recorded by the next run, as for any new version).

The version must be a whole number (``3``, or the text ``"3"``): it becomes
``4``. A version such as ``2024-05`` is refused: goldband cannot know what comes
next, so set the next version by hand and accept again.

Accepting the same review twice is a no-op: when every accepted candidate is
already in the set, with the same content, nothing is written and the result
says ``already_applied``. If only some are, or one was edited since, the
loader's duplicate-id error stops it and nothing is written.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from goldband._util import jsonio, yamlio
from goldband.errors import ConfigError, shorten
from goldband.golden import goldenset, lock
from goldband.golden.review import Review, ReviewCandidate, dump_yaml, read_review

__all__ = ["AcceptResult", "accept_review"]

_WHERE = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::\d+)?(?P<rest>.*)$", re.DOTALL)
_DIGITS = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class AcceptResult:
    """What ``accept_review`` changed; ``files`` is empty when nothing was written."""

    set_name: str
    set_path: Path  # relative to the project root when below it
    old_version: str
    new_version: str  # == old_version when nothing was written
    added: tuple[str, ...]  # the new case ids, in review order
    files: tuple[Path, ...]  # written, in order (the lock last)
    already_applied: bool = False


@dataclass(frozen=True)
class _Layout:
    """Where the version and the cases sit in the golden set's YAML text (character offsets)."""

    text: str
    newline: str
    version: tuple[int, int, str | None, Any]  # start, end, quote style, value
    cases_file: str | None  # the JSONL file name, for a JSONL set
    insert_at: int  # where new inline cases go
    indent: int  # the column of the list's '-'
    blank: bool  # existing cases are separated by blank lines
    flow_empty: tuple[int, int] | None  # the span of 'cases: []'


def accept_review(review_path: Path, *, base_dir: Path) -> AcceptResult:
    """Append the accepted candidates of ``review_path`` to their golden set (see the module doc)."""
    review = read_review(review_path, yamlio.relative(review_path, base_dir))
    set_path = _set_path(review, base_dir)
    shown = yamlio.relative(set_path, base_dir)
    current = goldenset.load(set_path, base_dir=base_dir)
    if current.name != review.set_name:
        raise ConfigError(f"the review is for golden set '{review.set_name}', but {shown} is '{current.name}'",
                          where=review.lines.where(("golden_set",)), fix="correct golden_set or set_name")
    accepted = review.accepted
    unchanged = AcceptResult(current.name, shown, current.version, current.version, (), ())
    if not accepted:
        return unchanged
    _unique(review, accepted)
    layout = _layout(set_path, shown, current.version_line)
    existing = _records(set_path, layout, base_dir)
    if _applied(existing, accepted):
        return AcceptResult(current.name, shown, current.version, current.version, (), (), already_applied=True)
    new_version = _next_version(layout, current, shown)
    recorded = _recorded(set_path, shown)
    _check_old(recorded, current, shown)
    new = _write(set_path, review, accepted, layout, existing, new_version, recorded, current, base_dir)
    lock.check_and_record(set_path, new.name, new.version, new.content_hash, new.version_line, shown)
    files = (*_files(set_path, layout, base_dir), yamlio.relative(lock.lock_path(set_path), base_dir))
    return AcceptResult(current.name, shown, current.version, new.version, tuple(c.id for c in accepted), files)


def _files(set_path: Path, layout: _Layout, base_dir: Path) -> list[Path]:
    paths = [set_path.parent / layout.cases_file] if layout.cases_file else []
    return [yamlio.relative(p, base_dir) for p in (*paths, set_path)]


def _set_path(review: Review, base_dir: Path) -> Path:
    path = Path(review.golden_set)
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise ConfigError(f"golden set {review.golden_set} not found", where=review.lines.where(("golden_set",)),
                          expected="the path of the golden set, relative to the project root",
                          fix="run accept from the project root, or correct golden_set")
    return path


def _unique(review: Review, accepted: Sequence[ReviewCandidate]) -> None:
    seen: dict[str, ReviewCandidate] = {}
    for candidate in accepted:
        if candidate.id in seen:
            first = review.lines.line(("candidates", seen[candidate.id].index, "id"))
            raise ConfigError(f"two accepted candidates have id '{shorten(candidate.id, 60)}' (first at line {first})",
                              where=review.where(candidate, "id"), expected="unique case ids",
                              fix="rename one of them")
        seen[candidate.id] = candidate


# --------------------------------------------------------------------------- reading the set's text


def _layout(path: Path, shown: Path, version_line: int | None) -> _Layout:
    """Find the version and the end of the cases list from PyYAML's events (each with its exact position)."""
    text = path.read_bytes().decode("utf-8")  # as it is, byte-order mark included: the set has loaded already
    events = list(yaml.parse(text, Loader=yaml.SafeLoader))
    version: tuple[int, int, str | None, Any] | None = None
    cases: tuple[int, int] | None = None  # event positions of the cases value
    depth, key, i = 0, None, 0
    while i < len(events):
        event = events[i]
        if depth == 1 and key is None and isinstance(event, yaml.ScalarEvent):
            key = event.value
            i += 1
            continue
        if depth == 1 and key is not None:
            end = _skip(events, i)
            if key == "version" and isinstance(event, yaml.ScalarEvent):
                version = (_start(event), _end(event), event.style, event.value)
            elif key == "cases":
                cases = (i, end)
            key, i = None, end
            continue
        depth += _step(event)
        i += 1
    if version is None:
        raise ConfigError("the version is not a plain value, so accept cannot bump it",
                          where=f"{shown}:{version_line}", expected="version: 3", fix="write the number itself")
    assert cases is not None  # the set loaded, so it has cases
    return _cases_layout(text, events, cases, version, shown)


def _step(event: yaml.Event) -> int:
    if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
        return 1
    if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
        return -1
    return 0


def _skip(events: list[yaml.Event], i: int) -> int:
    """The index after the value that starts at ``events[i]``."""
    depth = _step(events[i])
    i += 1
    while depth > 0:
        depth += _step(events[i])
        i += 1
    return i


def _cases_layout(text: str, events: list[yaml.Event], span: tuple[int, int],
                  version: tuple[int, int, str | None, Any], shown: Path) -> _Layout:
    newline = "\r\n" if "\r\n" in text else "\n"
    start = events[span[0]]
    if isinstance(start, yaml.ScalarEvent):
        return _Layout(text, newline, version, start.value, insert_at=0, indent=0, blank=False, flow_empty=None)
    assert isinstance(start, yaml.SequenceStartEvent)
    if start.flow_style:
        if span[1] - span[0] > 2:
            raise ConfigError("the cases are a flow list ([...]): new cases cannot be appended to it",
                              where=f"{shown}:{text.count(chr(10), 0, _start(start)) + 1}",
                              fix="write the cases as a block list, one '- id: ...' per case")
        column = _key_column(text, _start(start))
        return _Layout(text, newline, version, None, insert_at=0, indent=column + 2, blank=False,
                       flow_empty=(_start(start), _end(events[span[1] - 1])))
    end = _last_end(events[span[0]:span[1]])
    insert_at = end if text[end - 1:end] == "\n" else _line_end(text, end)
    last_item = _item_starts(events[span[0]:span[1]])[-1]
    line_start = text.rfind("\n", 0, last_item) + 1
    blank = text[:line_start].endswith(("\n\n", "\r\n\r\n"))
    indent = _start(start) - (text.rfind("\n", 0, _start(start)) + 1)  # the column of the first '-'
    return _Layout(text, newline, version, None, insert_at=insert_at, indent=indent, blank=blank, flow_empty=None)


def _start(event: yaml.Event) -> int:
    """Where ``event`` starts in the text (a character offset; PyYAML's parser always sets its marks)."""
    assert event.start_mark is not None
    return int(event.start_mark.index)


def _end(event: yaml.Event) -> int:
    assert event.end_mark is not None
    return int(event.end_mark.index)


def _last_end(events: list[yaml.Event]) -> int:
    """The end of the last character the list's items occupy: block collections end late (at the next
    token), so only scalars, aliases and flow collections count."""
    flows: list[bool] = []
    end = _start(events[0])
    for event in events:
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            flows.append(bool(event.flow_style))
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            if flows.pop():
                end = max(end, _end(event))
        elif isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
            end = max(end, _end(event))
    return end


def _item_starts(events: list[yaml.Event]) -> list[int]:
    starts, depth = [], 0
    for event in events[1:-1]:
        if depth == 0:
            starts.append(_start(event))
        depth += _step(event)
    return starts


def _line_end(text: str, at: int) -> int:
    found = text.find("\n", at)
    return len(text) if found < 0 else found + 1


def _key_column(text: str, at: int) -> int:
    line_start = text.rfind("\n", 0, at) + 1
    return len(text[line_start:at]) - len(text[line_start:at].lstrip())


def _records(path: Path, layout: _Layout, base_dir: Path) -> list[Any]:
    """The set's raw case records, as the loader read them."""
    if layout.cases_file:
        jsonl = path.parent / layout.cases_file
        return jsonio.load_jsonl(jsonl, yamlio.relative(jsonl, base_dir))[0]
    raw, _ = yamlio.loads(layout.text, path)
    return list(raw["cases"] or [])


def _applied(existing: list[Any], accepted: Sequence[ReviewCandidate]) -> bool:
    by_id = {rec.get("id"): rec for rec in existing if isinstance(rec, dict)}
    return all(by_id.get(c.id) == c.case for c in accepted)


# --------------------------------------------------------------------------- the version and the lock


def _next_version(layout: _Layout, current: goldenset.GoldenSet, shown: Path) -> str:
    value = layout.version[3]
    if not _DIGITS.match(value):
        raise ConfigError(f"version {shorten(value, 40)!r} is not a whole number, so accept cannot bump it",
                          where=f"{shown}:{current.version_line}", expected="an integer version such as 3",
                          fix="set the next version by hand (or switch to integer versions), then accept again")
    return str(int(value) + 1)


def _recorded(set_path: Path, shown: Path) -> dict[str, str]:
    """The lock's versions, read before anything is written (a malformed lock stops accept here)."""
    path = lock.lock_path(set_path)
    if not path.exists():
        return {}
    data, lines = yamlio.load(path, lock.lock_path(shown))
    versions = data.get("versions") if isinstance(data, dict) else None
    if not isinstance(versions or {}, dict):
        raise ConfigError("malformed lock file", where=lines.where(("versions",)),
                          expected="keys name and versions (a mapping of version to hash)",
                          fix="restore it from version control, or delete it to re-record")
    return {str(k): str(v) for k, v in (versions or {}).items()}


def _check_old(recorded: dict[str, str], current: goldenset.GoldenSet, shown: Path) -> None:
    """A set edited without a version bump is refused first: accepting would fold that edit into a new version."""
    old = recorded.get(current.version)
    if old is not None and old != current.content_hash:
        raise ConfigError(f"golden set '{current.name}' changed but its version is still {current.version}",
                          where=f"{shown}:{current.version_line}", expected="the content its lock records",
                          fix="bump the version for that change (or revert it), then accept")


def _check_new(recorded: dict[str, str], new: goldenset.GoldenSet, shown: Path) -> None:
    old = recorded.get(new.version)
    if old is not None and old != new.content_hash:
        raise ConfigError(f"the lock already records version {new.version} of '{new.name}' with other content",
                          where=str(lock.lock_path(shown)), expected="a version the lock does not know yet",
                          fix=f"set the version above {new.version} by hand, then accept")


# --------------------------------------------------------------------------- writing


def _write(set_path: Path, review: Review, accepted: Sequence[ReviewCandidate], layout: _Layout,
           existing: list[Any], version: str, recorded: dict[str, str], current: goldenset.GoldenSet,
           base_dir: Path) -> goldenset.GoldenSet:
    """Write the new files in a temporary folder beside the set, load them, then move them into place."""
    cases = [c.case for c in accepted]
    with tempfile.TemporaryDirectory(dir=set_path.parent, prefix=".goldband-accept-") as folder:
        tmp = Path(folder)
        for block in (True, False):  # literal blocks, or every text double-quoted if one did not survive
            texts = _texts(set_path, layout, cases, version, block)
            for path, text in texts.items():
                (tmp / path.name).write_text(text, encoding="utf-8", newline="")
                shutil.copymode(path, tmp / path.name)
            new = _validate(tmp / set_path.name, review, accepted, layout, len(existing), current, base_dir)
            if _records(tmp / set_path.name, _relayout(layout, texts[set_path]), base_dir) == [*existing, *cases]:
                break
        else:
            raise ConfigError("the new cases did not read back as written", where=str(review.path),
                              fix="report this to goldband; meanwhile add the cases by hand")
        _check_new(recorded, new, yamlio.relative(set_path, base_dir))
        for path in texts:  # the JSONL first, the YAML last
            os.replace(tmp / path.name, path)
    return new


def _relayout(layout: _Layout, text: str) -> _Layout:
    return dataclasses.replace(layout, text=text)


def _texts(set_path: Path, layout: _Layout, cases: list[dict[str, Any]], version: str,
           block: bool) -> dict[Path, str]:
    """The new file texts, the JSONL (if any) first."""
    start, end, style, _ = layout.version
    quote = style if style in ("'", '"') else ""
    yaml_text = layout.text
    if layout.cases_file:
        jsonl = set_path.parent / layout.cases_file
        old = jsonl.read_bytes().decode("utf-8")
        lines = "".join(json.dumps(c, ensure_ascii=False, allow_nan=False) + "\n" for c in cases)
        new_yaml = yaml_text[:start] + f"{quote}{version}{quote}" + yaml_text[end:]
        return {jsonl: old + ("\n" if old and not old.endswith("\n") else "") + lines, set_path: new_yaml}
    items = _items(cases, layout, block)
    if layout.flow_empty:
        at, stop = layout.flow_empty
        yaml_text = yaml_text[:at].rstrip(" ") + layout.newline + items.rstrip("\n") + yaml_text[stop:]
    else:
        head = yaml_text[:layout.insert_at]
        if head and not head.endswith("\n"):
            head += layout.newline
        if head.endswith("\n\n"):  # a blank line there already (or the end of a |+ text, which would take ours)
            items = items.removeprefix(layout.newline)
        yaml_text = head + items + yaml_text[layout.insert_at:]
    return {set_path: yaml_text[:start] + f"{quote}{version}{quote}" + yaml_text[end:]}


def _items(cases: list[dict[str, Any]], layout: _Layout, block: bool) -> str:
    """The cases as YAML list items at the list's indentation (the version sits above them)."""
    pad = " " * layout.indent
    out = []
    for case in cases:
        text = dump_yaml([case], block=block)
        lines = [pad + line if line else line for line in text.split("\n")]
        item = layout.newline.join(lines)
        out.append(layout.newline + item if layout.blank else item)
    return "".join(out)


def _validate(path: Path, review: Review, accepted: Sequence[ReviewCandidate], layout: _Layout, first: int,
              current: goldenset.GoldenSet, base_dir: Path) -> goldenset.GoldenSet:
    """Load the temporary copy with the golden set's own loader; its error is told at the review's line."""
    try:
        return goldenset.load(path, base_dir=base_dir)
    except ConfigError as exc:
        raise _mapped(exc, path, review, accepted, layout, first, current, base_dir) from None


def _mapped(exc: ConfigError, path: Path, review: Review, accepted: Sequence[ReviewCandidate], layout: _Layout,
            first: int, current: goldenset.GoldenSet, base_dir: Path) -> ConfigError:
    tmp, real = (yamlio.relative(p, base_dir).as_posix() + "/" for p in (path.parent, current.path.parent))
    real = "" if real == "./" else real
    what, where = (exc.what or "").replace(tmp, real), (exc.where or "").replace(tmp, real)
    found = _WHERE.match(where)
    target = real + (layout.cases_file or current.path.name)
    at = _review_path(found, path, layout, first) if found and found.group("file") == target else None
    if at is None or not 0 <= at[0] < len(accepted):
        return ConfigError(what, where=where, expected=exc.expected, fix=exc.fix)
    candidate = accepted[at[0]]
    fix = exc.fix or "correct it in the review file"
    if "duplicate case id" in what and review.set_version != current.version:
        fix += (f"; the set is at version {current.version} but the review was written at {review.set_version}: "
                "it may have been accepted already")
    return ConfigError(f"{what} (as a case of {real}{current.path.name})", where=review.where(candidate, *at[1]),
                       expected=exc.expected, fix=f"{fix} (or set accept: false)")


def _review_path(found: re.Match[str], path: Path, layout: _Layout,
                 first: int) -> tuple[int, tuple[str | int, ...]] | None:
    """Which accepted candidate (by position) and which of its fields a line of the temporary copy holds."""
    line = int(found.group("line"))
    if layout.cases_file:
        records, lines = jsonio.load_jsonl(path.parent / layout.cases_file)
        numbers = [lines.by_path[(i,)] for i in range(len(records))]
        return (numbers.index(line) - first, ()) if line in numbers else None
    _, lines = yamlio.load(path)
    paths = [p for p, n in lines.by_path.items() if n == line and p[:1] == ("cases",) and len(p) >= 2]
    if not paths:
        return None
    deepest = max(paths, key=len)
    assert isinstance(deepest[1], int)
    return deepest[1] - first, tuple(deepest[2:])
