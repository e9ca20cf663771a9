"""Rubric files: ``rubrics/NAME.yaml`` -> a validated, content-hashed ``Rubric``.

A rubric says what the judge grades and how::

    name: policy-adherence          # must match the file name
    version: 1
    scale: {min: 1, max: 5}         # integer levels
    criteria:
      - name: follows-policy
        weight: 2                   # relative; fractions must sum to 1
        description: Answers from the written policy only.
        levels: {1: "Contradicts the policy", 3: "...", 5: "Exactly the policy"}
    pass: 4                         # minimum weighted score, on the scale
    samples: {n: 1, combine: mean}  # judge samples per output: mean | median | majority
    show: {input: true, reference: false}
    calibration: policy-adherence.calibration.jsonl   # beside the rubric
    agreement_floor: {kappa: 0.6}

Structure is checked by pydantic (errors mapped to file:line); meaning (levels inside
the scale, both ends anchored, weights, thresholds, examples) by the checks below,
each naming the line, what was expected and the fix.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from goldband._util import yamlio
from goldband._util.hashing import canonical_hash
from goldband.config.base import Strict, parse
from goldband.config.project import Endpoint, Structured
from goldband.errors import ConfigError

RUBRICS_DIR = "rubrics"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
PROMPT_VERSION = 1  # bump when goldband's judge prompt changes: cached judgements go stale
Combine = Literal["mean", "median", "majority"]


class ScaleModel(Strict):
    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> ScaleModel:
        if not self.min < self.max <= self.min + 10:
            raise ValueError(f"the scale must have 2 to 11 integer levels, min < max (found {self.min}-{self.max})")
        return self


class CriterionModel(Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=60)
    weight: float = 1.0
    description: str = Field(min_length=1)
    levels: dict[int, str]


class SamplesModel(Strict):
    n: int = Field(1, ge=1, le=20)
    combine: Combine = "mean"


class ShowModel(Strict):
    input: bool = True
    reference: bool = False


class ExampleModel(Strict):
    input: Any = None
    reference: str | None = None
    output: str
    scores: dict[str, int]
    reasoning: str = ""


class FloorModel(Strict):
    kappa: float | None = Field(None, ge=-1, le=1)
    accuracy: float | None = Field(None, ge=0, le=1)
    mae: float | None = Field(None, ge=0)  # a maximum: mean absolute score error


class RubricJudge(Endpoint):
    """A rubric's own judge: only the fields written here override goldband.yaml's ``judge:``."""

    structured: Structured | None = None


class RubricModel(Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=80)
    version: int | str
    description: str | None = None
    scale: ScaleModel
    criteria: list[CriterionModel]
    pass_: float = Field(alias="pass")
    samples: SamplesModel = Field(default_factory=SamplesModel)
    show: ShowModel = Field(default_factory=ShowModel)
    instructions: str | None = None
    examples: list[ExampleModel] = Field(default_factory=list)
    judge: RubricJudge | None = None
    calibration: str | None = None
    agreement_floor: FloorModel | None = None

    @field_validator("samples", mode="before")
    @classmethod
    def _samples_count(cls, value: Any) -> Any:
        """``samples: 3`` is short for ``samples: {n: 3}``."""
        if isinstance(value, int) and not isinstance(value, bool):
            return {"n": value}
        if not isinstance(value, dict):
            raise ValueError("expected a count such as 3, or {n: 3, combine: mean | median | majority}")
        return value

    @field_validator("agreement_floor", mode="before")
    @classmethod
    def _floor_kappa(cls, value: Any) -> Any:
        """``agreement_floor: 0.6`` is short for ``agreement_floor: {kappa: 0.6}``."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"kappa": value}
        if value is not None and not isinstance(value, dict):
            raise ValueError("expected a kappa such as 0.6, or {kappa: 0.6, accuracy: 0.8, mae: 0.5}")
        return value


@dataclass(frozen=True)
class Rubric:
    """A loaded rubric. ``content_hash`` covers the whole file; ``prompt_hash`` only what
    the judge is shown (so a new pass threshold does not re-judge cached outputs)."""

    name: str
    version: str
    description: str | None
    path: Path  # as shown in messages, relative to the project root
    content_hash: str
    prompt_hash: str
    scale_min: int
    scale_max: int
    criteria: tuple[CriterionModel, ...]
    pass_score: float
    samples: int
    combine: Combine
    show_input: bool
    show_reference: bool
    instructions: str | None
    examples: tuple[ExampleModel, ...]
    judge: RubricJudge | None
    calibration: Path | None  # absolute
    floor: FloorModel | None
    body: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # the file's data, as written
    inline: str | None = None  # the criterion's text, for a one-line rubric written in the golden set

    @property
    def levels(self) -> list[int]:
        return list(range(self.scale_min, self.scale_max + 1))

    @property
    def scale_text(self) -> str:
        return f"{self.scale_min}-{self.scale_max}"

    def normalise(self, value: float) -> float:
        """A score on the scale -> [0, 1], the unit every check score uses."""
        return (value - self.scale_min) / (self.scale_max - self.scale_min)

    @property
    def title(self) -> str:
        """How messages and reports name it: ``rubric NAME``, or an inline rubric's text in quotes."""
        return f"rubric {self.name}" if self.inline is None else f'rubric "{_shorten(self.inline)}"'

    def agreement_path(self, root: Path) -> Path:
        """Where ``goldband judge calibrate`` records the last measured agreement."""
        return root / RUBRICS_DIR / f"{self.name}.agreement.json"


def rubric_path(name: str, root: Path) -> Path | None:
    for suffix in (".yaml", ".yml"):
        path = root / RUBRICS_DIR / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def available(root: Path) -> list[str]:
    """Names of the rubrics in ``rubrics/`` (for 'expected one of' messages)."""
    folder = root / RUBRICS_DIR
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))


_LOADED: dict[tuple[Path, int], Rubric] = {}

#: The pass/fail scale of a one-line rubric: 0 (not met) or 1 (met); it passes at 1.
INLINE_CRITERION = "meets-criterion"
INLINE_LEVELS = {0: "No: the output does not meet the criterion.", 1: "Yes: the output meets the criterion."}
INLINE_DESCRIPTION = "A one-line rubric: decide whether the output meets the single criterion below."
INLINE_FLOOR = FloorModel(kappa=0.6)  # like a file rubric's floor: it gates only once calibrated


def is_inline(value: str, root: Path) -> bool:
    """Does a golden set's ``rubric:`` value hold an inline rubric rather than name a rubric file?

    A value ending in .yaml/.yml, or naming a file in ``rubrics/``, is a file; any
    other value with a space in it is the text of a one-line rubric.

    >>> is_inline("Does not mention being an AI", Path("."))
    True
    >>> is_inline("policy-adherence", Path(".")), is_inline("rubrics/a b.yaml", Path("."))
    (False, False)
    """
    text = value.strip()
    if text.endswith((".yaml", ".yml")) or rubric_path(text, root) is not None:
        return False
    return any(ch.isspace() for ch in text)


def inline_rubric(text: str) -> Rubric:
    """A one-line rubric: ``text`` as its only criterion, on a pass/fail scale (0 or 1, pass at 1).

    It is named and hashed by its text (``inline-`` and 12 hex digits), so the judge
    cache and cassettes key it like a file rubric; the judge is goldband.yaml's.
    Like a file rubric with an ``agreement_floor``, it reports but does not gate
    until calibrated (``judge: {gate: always}`` opts in anyway).

    >>> rubric = inline_rubric("Does not  mention being an AI")
    >>> rubric.name.startswith("inline-"), rubric.inline, rubric.levels, rubric.pass_score
    (True, 'Does not mention being an AI', [0, 1], 1.0)
    """
    text = " ".join(text.split())
    if not text:
        raise ConfigError("an inline rubric is empty", expected="a criterion such as 'Does not mention being an AI'",
                          fix="write the criterion, or name a rubric file")
    raw = {"inline": text, "description": INLINE_DESCRIPTION, "scale": {"min": 0, "max": 1},
           "criteria": [{"name": INLINE_CRITERION, "weight": 1, "description": text, "levels": INLINE_LEVELS}],
           "pass": 1}
    name = f"inline-{canonical_hash(raw).rpartition(':')[2][:12]}"
    model = RubricModel.model_validate({**{k: v for k, v in raw.items() if k != "inline"}, "name": name,
                                        "version": "inline"})
    built = _build(model, raw, Path(name), None)
    return dataclasses.replace(built, inline=text, floor=INLINE_FLOOR)


def load_rubric(name: str, root: Path) -> Rubric:
    """Load ``rubrics/NAME.yaml`` once per file version; ConfigError naming file:line."""
    path = rubric_path(name, root)
    if path is None:
        known = ", ".join(available(root)) or f"(none: {RUBRICS_DIR}/ has no rubric files)"
        raise ConfigError(f"unknown rubric '{name}' (no {RUBRICS_DIR}/{name}.yaml)", expected=f"one of: {known}",
                          fix=f"create {RUBRICS_DIR}/{name}.yaml or correct the name")
    key = (path.resolve(), path.stat().st_mtime_ns)
    if key not in _LOADED:
        _LOADED[key] = load_file(path, root)
    return _LOADED[key]


def load_file(path: Path, root: Path) -> Rubric:
    display = yamlio.relative(path, root)
    raw, lines = yamlio.load(path, display)
    if not isinstance(raw, dict):
        raise ConfigError("a rubric must be a mapping", where=f"{display}:{lines.line(()) or 1}",
                          expected="keys name, version, scale, criteria, pass", fix="see rubrics/helpfulness.yaml")
    _require_criteria(raw, lines)
    model: RubricModel = parse(RubricModel, raw, lines)
    if model.name != path.stem:
        raise ConfigError(f"rubric name '{model.name}' differs from its file name '{path.stem}'",
                          where=lines.where(("name",)), expected=f"name: {path.stem}",
                          fix="rename the file or the rubric, so 'rubric: NAME' finds it")
    _check_scale_and_criteria(model, lines)
    _check_pass_and_samples(model, lines)
    _check_examples(model, lines)
    calibration = _check_calibration(model, lines, path.parent)
    return _build(model, raw, display, calibration)


def _require_criteria(raw: dict[str, Any], lines: yamlio.Lines) -> None:
    criteria = raw.get("criteria")
    if isinstance(criteria, list) and criteria:
        return
    found = "no 'criteria' key" if "criteria" not in raw else f"criteria: {criteria!r}"
    raise ConfigError(f"a rubric needs at least one criterion ({found})", where=lines.where(("criteria",)),
                      expected="a list under 'criteria:', each with name, weight, description and levels",
                      fix="add e.g. 'criteria: [{name: correct, weight: 1, description: ..., "
                          "levels: {1: ..., 5: ...}}]'")


def _check_scale_and_criteria(model: RubricModel, lines: yamlio.Lines) -> None:
    seen: set[str] = set()
    for i, criterion in enumerate(model.criteria):
        at = ("criteria", i)
        if criterion.name in seen:
            raise ConfigError(f"duplicate criterion '{criterion.name}'", where=lines.where((*at, "name")),
                              expected="unique criterion names", fix="rename or merge one of them")
        seen.add(criterion.name)
        _check_levels(criterion, model.scale, lines, at)
    _check_weights(model, lines)


def _check_levels(criterion: CriterionModel, scale: ScaleModel, lines: yamlio.Lines, at: tuple[str | int, ...]
                  ) -> None:
    span = f"{scale.min}-{scale.max}"
    for level, text in criterion.levels.items():
        where = lines.where((*at, "levels", str(level)))
        if not scale.min <= level <= scale.max:
            raise ConfigError(f"criterion '{criterion.name}': level {level} is outside the scale {span}",
                              where=where, expected=f"levels between {scale.min} and {scale.max}",
                              fix="renumber the level, or widen 'scale'")
        if not str(text).strip():
            raise ConfigError(f"criterion '{criterion.name}': level {level} has no description", where=where,
                              expected="an anchored description of what earns this level", fix="describe it")
    for end in (scale.min, scale.max):
        if end not in criterion.levels:
            raise ConfigError(f"criterion '{criterion.name}' has no anchor for level {end}, an end of the scale "
                              f"{span}", where=lines.where((*at, "levels")),
                              expected=f"a description for both ends of the scale ({scale.min} and {scale.max}), "
                                       "and any levels in between you can describe",
                              fix=f"add '{end}: <what earns {end}>' under levels")


def _check_weights(model: RubricModel, lines: yamlio.Lines) -> None:
    weights = [c.weight for c in model.criteria]
    for i, weight in enumerate(weights):
        if not math.isfinite(weight) or weight <= 0:
            raise ConfigError(f"criterion '{model.criteria[i].name}': weight {weight} is not a positive number",
                              where=lines.where(("criteria", i, "weight")),
                              expected="a weight > 0 (weights are relative: 2 counts twice as much as 1)",
                              fix="use a positive weight, or remove the criterion")
    total = sum(weights)
    if len(weights) > 1 and all(w < 1 for w in weights) and abs(total - 1) > 0.01:
        shown = " + ".join(f"{w:g}" for w in weights)
        raise ConfigError(f"the weights look like fractions but sum to {total:g} ({shown})",
                          where=lines.where(("criteria",)), expected="fractions that sum to 1, or relative weights",
                          fix="make the fractions sum to 1, or write relative weights such as 2 and 1")


def _check_pass_and_samples(model: RubricModel, lines: yamlio.Lines) -> None:
    scale = model.scale
    if not scale.min <= model.pass_ <= scale.max:
        raise ConfigError(f"pass {model.pass_:g} is outside the scale {scale.min}-{scale.max}",
                          where=lines.where(("pass",)), expected=f"a minimum weighted score from {scale.min} to "
                          f"{scale.max}", fix="set 'pass' on the rubric's scale, e.g. 4 on a 1-5 scale")
    samples = model.samples
    if samples.combine == "majority" and samples.n % 2 == 0:
        raise ConfigError(f"combine: majority with {samples.n} samples can tie", where=lines.where(("samples",)),
                          expected="an odd number of samples for a majority vote",
                          fix=f"use n: {samples.n + 1}, or combine: median")


def _check_examples(model: RubricModel, lines: yamlio.Lines) -> None:
    names = [c.name for c in model.criteria]
    for i, example in enumerate(model.examples):
        where = lines.where(("examples", i, "scores"))
        if sorted(example.scores) != sorted(names):
            raise ConfigError(f"example {i + 1} scores {sorted(example.scores)}, not the rubric's criteria",
                              where=where, expected=f"one score for each of: {', '.join(names)}",
                              fix="score every criterion, by its exact name")
        bad = [f"{k}={v}" for k, v in example.scores.items() if not model.scale.min <= v <= model.scale.max]
        if bad:
            raise ConfigError(f"example {i + 1}: {', '.join(bad)} is outside the scale "
                              f"{model.scale.min}-{model.scale.max}", where=where,
                              expected="scores on the rubric's scale", fix="correct the score")


def _check_calibration(model: RubricModel, lines: yamlio.Lines, folder: Path) -> Path | None:
    if model.calibration is None:
        if model.agreement_floor is not None:
            raise ConfigError("agreement_floor is set but no calibration file is named",
                              where=lines.where(("agreement_floor",)),
                              expected="'calibration: FILE.jsonl' with human-labelled outputs",
                              fix="add a calibration file, or remove agreement_floor")
        return None
    path = folder / model.calibration
    if not path.is_file():
        raise ConfigError(f"calibration file '{model.calibration}' not found (looked for {path.name} beside the "
                          "rubric)", where=lines.where(("calibration",)),
                          expected="a JSONL file of outputs with human scores or pass/fail labels",
                          fix="create it (see README.md, Calibration), or correct the path")
    return path


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _build(model: RubricModel, raw: dict[str, Any], display: Path, calibration: Path | None) -> Rubric:
    seen = {k: raw.get(k) for k in ("description", "scale", "criteria", "show", "instructions", "examples")}
    return Rubric(
        name=model.name, version=str(model.version), description=model.description, path=display,
        content_hash=canonical_hash(raw), prompt_hash=canonical_hash({**seen, "prompt_version": PROMPT_VERSION}),
        scale_min=model.scale.min, scale_max=model.scale.max, criteria=tuple(model.criteria),
        pass_score=model.pass_, samples=model.samples.n, combine=model.samples.combine, show_input=model.show.input,
        show_reference=model.show.reference, instructions=model.instructions, examples=tuple(model.examples),
        judge=model.judge, calibration=calibration, floor=model.agreement_floor, body=raw,
    )
