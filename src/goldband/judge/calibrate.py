"""Calibration: how well the judge agrees with human labels, measured and recorded.

A rubric's ``calibration`` file is JSONL beside it, one labelled output per line::

    {"id": "r1", "input": {"question": "..."}, "reference": "...", "output": "...", "score": 4}
    {"id": "r2", "output": "...", "label": "fail"}

``score`` is a human score on the rubric's scale, ``label`` a pass/fail judgement
(``pass``/``fail`` or true/false); a row may have both. ``goldband judge calibrate``
judges every row as the rubric would in a run and measures:

- on score rows: quadratic-weighted Cohen's kappa between the human score and the
  judge's weighted score rounded to a level, exact-level accuracy, and the mean
  absolute error of the unrounded judge score;
- on all rows: pass/fail accuracy and (unweighted) Cohen's kappa, where a human
  score passes at the rubric's ``pass``.

``kappa`` (what a bare ``agreement_floor: 0.6`` means) is the weighted kappa when score
rows exist, else the pass/fail kappa. The result is written to
``rubrics/NAME.agreement.json`` with the hashes it was measured under, so a changed
rubric, judge or calibration file makes it stale (see ``goldband.judge.gate``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from goldband._util import jsonio, textio, yamlio
from goldband.errors import ConfigError
from goldband.judge import agreement
from goldband.judge.rubric import FloorModel, Rubric

ROW_KEYS = frozenset({"id", "input", "reference", "output", "score", "label", "note"})


@dataclass(frozen=True)
class Row:
    id: str
    line: int
    output: str
    input: Any = None
    reference: str | None = None
    score: int | None = None
    label: bool | None = None  # True: pass


@dataclass(frozen=True)
class Judged:
    """One row's judgement: the judge's weighted score and decision, or its error."""

    row: Row
    weighted: float | None
    passed: bool | None
    error: str | None = None


@dataclass(frozen=True)
class Agreement:
    n: int
    errors: int
    score_rows: int
    kappa: float  # the floor's default metric (see the module docstring)
    kappa_kind: str
    weighted_kappa: float
    level_accuracy: float
    mae: float
    pass_kappa: float
    accuracy: float  # pass/fail

    def to_json(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def file_hash(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def load_rows(rubric: Rubric, root: Path) -> list[Row]:
    """Read and validate the calibration file; ConfigError naming file:line."""
    if rubric.calibration is None:
        raise ConfigError(f"rubric '{rubric.name}' names no calibration file", where=str(rubric.path),
                          expected="'calibration: FILE.jsonl' beside the rubric",
                          fix="add a JSONL file of outputs with human 'score' or 'label' (see README.md)")
    display = yamlio.relative(rubric.calibration, root)
    rows: list[Row] = []
    seen: dict[str, int] = {}
    text = textio.read(rubric.calibration, display, cannot="cannot read calibration file")
    for number, raw in enumerate(text.split("\n"), start=1):  # only \n ends a row (U+2028 may sit in a string)
        if raw.strip():
            row = _row(raw.removesuffix("\r"), display, number, rubric)
            if row.id in seen:
                raise ConfigError(f"duplicate row id '{row.id}' (first at line {seen[row.id]})",
                                  where=f"{display}:{number}", expected="unique ids", fix="rename one of them")
            seen[row.id] = number
            rows.append(row)
    if not rows:
        raise ConfigError("the calibration file has no rows", where=str(display),
                          expected="one JSON object per line with 'output' and 'score' or 'label'",
                          fix="add labelled outputs (20 or more give a usable kappa)")
    return rows


def _row(raw: str, display: Path, number: int, rubric: Rubric) -> Row:
    example = '{"id": "r1", "output": "...", "score": 4}'
    where = f"{display}:{number}"
    try:  # the one safe loader: deep nesting and values Python cannot hold name the line and column
        data = jsonio.loads(raw, display, number)
    except ConfigError as exc:
        raise ConfigError(exc.what, where=exc.where, expected=f"one JSON object per line, e.g. {example}",
                          fix="correct that line") from None
    if not isinstance(data, dict):
        raise ConfigError(f"a calibration row must be a JSON object, found {type(data).__name__}", where=where,
                          expected=f"e.g. {example}", fix="write the row as an object")
    unknown = sorted(set(data) - ROW_KEYS)
    if unknown:
        raise ConfigError(f"unknown key '{unknown[0]}' in a calibration row", where=where,
                          expected=f"keys among: {', '.join(sorted(ROW_KEYS))}", fix="remove it or fix its spelling")
    if not isinstance(data.get("output"), str):
        raise ConfigError("a calibration row needs 'output', the text the judge grades", where=where,
                          expected=f"a string under 'output', e.g. {example}", fix="add the output under test")
    return Row(id=str(data.get("id", f"line-{number}")), line=number, output=data["output"],
               input=data.get("input"), reference=_reference(data, where),
               score=_score(data, where, rubric), label=_label(data, where))


def _reference(data: dict[str, Any], where: str) -> str | None:
    value = data.get("reference")
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"'reference' must be text, found {value!r}", where=where,
                          expected="a string", fix="quote the reference answer")
    return value


def _score(data: dict[str, Any], where: str, rubric: Rubric) -> int | None:
    value = data.get("score")
    if value is None:
        if data.get("label") is None:
            raise ConfigError("a calibration row needs a human 'score' or 'label'", where=where,
                              expected=f"'score': an integer {rubric.scale_text}, or 'label': \"pass\" | \"fail\"",
                              fix="add the human judgement of this output")
        return None
    ok = isinstance(value, int) and not isinstance(value, bool) and rubric.scale_min <= value <= rubric.scale_max
    if not ok:
        raise ConfigError(f"score {value!r} is not a level of the scale {rubric.scale_text}", where=where,
                          expected=f"an integer from {rubric.scale_min} to {rubric.scale_max}",
                          fix="use a level of the rubric's scale, or a 'label' instead")
    return int(value)


def _label(data: dict[str, Any], where: str) -> bool | None:
    value = data.get("label")
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if value in ("pass", "fail"):
        return bool(value == "pass")
    raise ConfigError(f"label {value!r} is not pass or fail", where=where,
                      expected='"pass", "fail", true or false', fix="write the label as pass or fail")


def measure(rubric: Rubric, judged: list[Judged]) -> Agreement:
    """Agreement metrics over the judged rows (errored rows are counted, not scored)."""
    ok = [j for j in judged if j.error is None and j.weighted is not None and j.passed is not None]
    scored = [j for j in ok if j.row.score is not None]
    human = [j.row.score for j in scored if j.row.score is not None]
    judge = [j.weighted for j in scored if j.weighted is not None]
    levels = [agreement.nearest_level(x, rubric.scale_min, rubric.scale_max) for x in judge]
    human_pass = [_human_pass(j.row, rubric) for j in ok]
    judge_pass = [bool(j.passed) for j in ok]
    weighted = agreement.cohen_kappa(human, levels, labels=rubric.levels, weights="quadratic")
    pass_kappa = agreement.cohen_kappa(human_pass, judge_pass, labels=[False, True])
    primary, kind = (weighted, "quadratic-weighted kappa on scores") if scored else \
        (pass_kappa, "kappa on pass/fail")
    return Agreement(n=len(judged), errors=len(judged) - len(ok), score_rows=len(scored), kappa=primary,
                     kappa_kind=kind, weighted_kappa=weighted, level_accuracy=agreement.accuracy(human, levels),
                     mae=agreement.mean_absolute_error([float(h) for h in human], judge),
                     pass_kappa=pass_kappa, accuracy=agreement.accuracy(human_pass, judge_pass))


def _human_pass(row: Row, rubric: Rubric) -> bool:
    if row.label is not None:
        return row.label
    return row.score is not None and row.score >= rubric.pass_score - 1e-9


def shortfalls(result: Agreement, floor: FloorModel | None) -> list[str]:
    """Why the agreement is below the rubric's floor (empty: it meets it, or there is none)."""
    if floor is None:
        return []
    out = []
    if result.errors:
        out.append(f"{result.errors} of {result.n} calibration rows errored")
    for name, value, bar, higher in (("kappa", result.kappa, floor.kappa, True),
                                     ("accuracy", result.accuracy, floor.accuracy, True),
                                     ("mae", result.mae, floor.mae, False)):
        if bar is None:
            continue
        if math.isnan(value):
            out.append(f"{name} is undefined (the labels use a single category, or no row has a score)")
        elif (value < bar) if higher else (value > bar):
            out.append(f"{name} {value:.2f} {'<' if higher else '>'} floor {bar:g}")
    return out


VOLATILE = ("measured_at",)  # fields of an agreement record that change on every measurement


def record(rubric: Rubric, root: Path, result: Agreement, *, judge_hash: str,
           judge_model: str | None) -> tuple[Path, bool]:
    """Write ``rubrics/NAME.agreement.json`` (atomically): the last measurement and its hashes.

    Returns the path and whether it was written: a record that differs from the
    one on disk only in its ``VOLATILE`` fields (the time) is left alone, so a
    committed file does not change when nothing it says changed.
    """
    assert rubric.calibration is not None
    problems = shortfalls(result, rubric.floor)
    data = {"rubric": rubric.name, "rubric_version": rubric.version, "rubric_hash": rubric.content_hash,
            "judge_model": judge_model, "judge_hash": judge_hash,
            "calibration": yamlio.relative(rubric.calibration, root).as_posix(),
            "calibration_hash": file_hash(rubric.calibration),
            "measured_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "agreement": result.to_json(),
            "floor": rubric.floor.model_dump(exclude_none=True) if rubric.floor else None,
            "meets_floor": not problems, "shortfalls": problems}
    path = rubric.agreement_path(root)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if _same(read_record(rubric, root), json.loads(text)):
        return path, False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return path, True


def _same(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Whether two records say the same, their volatile fields aside."""
    return old is not None and {k: v for k, v in old.items() if k not in VOLATILE} == \
        {k: v for k, v in new.items() if k not in VOLATILE}


def read_record(rubric: Rubric, root: Path) -> dict[str, Any] | None:
    try:  # unreadable or damaged (bad bytes, malformed JSON): as if there were none
        data = jsonio.load(rubric.agreement_path(root))
    except ConfigError:
        return None
    return data if isinstance(data, dict) else None
