"""The ``rubric`` check: grade the output with the LLM judge against ``rubrics/NAME.yaml``, or a one-line rubric.

    - rubric: policy-adherence
      min_score: 4            # optional: overrides the rubric's ``pass`` (on its scale)
    - rubric: "Does not mention being an AI"   # inline: one criterion, pass/fail

Which is which: a value ending in .yaml/.yml, or naming a file in ``rubrics/``, is a
rubric file (``NAME``, ``NAME.yaml`` and ``rubrics/NAME.yaml`` all name
``rubrics/NAME.yaml``); any other value with a space in it is an inline rubric
(``goldband.judge.rubric.inline_rubric``); anything else is an unknown rubric name.

The rubric file is loaded and validated when the golden set loads, so an unknown
name or a bad rubric is a collection error with file:line. The check is
``judged``: the engine hands it to the run's judge (``JudgeRuntime.grade``),
which makes one request per output for all criteria and returns a gating
``rubric`` score plus one non-gating ``rubric-criterion`` score per criterion,
or one *error* score with the evidence. The checks package finds this check by
name (``goldband.checks.base.ELSEWHERE``), so it never imports the judge.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import Field, PrivateAttr, field_validator

from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register
from goldband.config.project import JudgeConfig
from goldband.errors import CheckError, ConfigError
from goldband.judge.endpoint import rubric_identity
from goldband.judge.rubric import NAME_PATTERN, RUBRICS_DIR, Rubric, inline_rubric, is_inline, load_rubric


@register("rubric")
class RubricCheck(CheckSpec):
    primary = "rubric"
    judged = True

    rubric: str = Field(min_length=1, max_length=2000)
    min_score: float | None = None
    _loaded: Rubric | None = PrivateAttr(default=None)

    @field_validator("rubric")
    @classmethod
    def _a_name_or_a_sentence(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected a rubric name, a rubric file, or a one-line criterion")
        if "\n" in value.strip() and not value.strip().endswith((".yaml", ".yml")):
            raise ValueError("an inline rubric is one line; write a longer rubric as a file in rubrics/")
        return value

    def describe(self) -> str:
        """``rubric NAME`` for a file, ``rubric "the criterion"`` for an inline rubric (the report shows it)."""
        if self.label:
            return self.label
        value = self.rubric.strip()
        if value.endswith((".yaml", ".yml")):
            return f"rubric {PurePosixPath(value).stem}"
        return inline_rubric(value).title if any(c.isspace() for c in value) else f"rubric {value}"

    def prepare(self, base_dir: Path) -> None:
        try:
            rubric = self._load(base_dir)
        except ConfigError as exc:
            if exc.where is not None:  # an error inside the rubric file names that file's line
                raise
            raise CheckError(exc.render()) from None
        if self.min_score is not None and not rubric.scale_min <= self.min_score <= rubric.scale_max:
            raise CheckError(f"min_score {self.min_score:g} is outside the scale {rubric.scale_text} of rubric "
                             f"'{rubric.name}'; expected a score from {rubric.scale_min} to {rubric.scale_max}; "
                             "fix: use the rubric's scale, or remove min_score to use its 'pass'")
        self._loaded = rubric

    def _load(self, base_dir: Path) -> Rubric:
        value = self.rubric.strip()
        if is_inline(value, base_dir):
            return inline_rubric(value)
        return load_rubric(_file_name(value), base_dir)

    def loaded(self, base_dir: Path) -> Rubric:
        """The validated rubric (loaded by ``prepare`` when the golden set loaded, else now)."""
        if self._loaded is None:
            self.prepare(base_dir)
        assert self._loaded is not None
        return self._loaded

    @property
    def threshold(self) -> float | None:
        """The pass score on the rubric's scale: ``min_score`` when given, else the rubric's ``pass``."""
        if self.min_score is not None:
            return self.min_score
        return self._loaded.pass_score if self._loaded is not None else None

    def store_identity(self, judge: JudgeConfig | None = None) -> dict[str, Any]:
        """The rubric and the judge (``judge``: goldband.yaml's, with the rubric's overrides) that score
        with this check, as the store records them."""
        if self._loaded is None:
            raise CheckError(f"rubric '{self.rubric}' was not loaded (prepare was not called)")
        return rubric_identity(self._loaded, judge)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        raise CheckError("a rubric check needs the judge; it runs only inside a goldband run")


def _file_name(value: str) -> str:
    """The rubric name a file value stands for: ``NAME``, ``NAME.yaml`` or ``rubrics/NAME.yaml``."""
    if not value.endswith((".yaml", ".yml")):
        if not re.match(NAME_PATTERN, value):
            raise ConfigError(f"unknown rubric '{value}': not a rubric name (letters, digits, '_', '.', '-')",
                              expected=f"a file in {RUBRICS_DIR}/, or a sentence for a one-line inline rubric",
                              fix="correct the name, or write the criterion as a sentence, e.g. "
                                  "'rubric: \"Does not mention being an AI\"'")
        return value
    path = PurePosixPath(value)
    if path.parent.parts not in ((), (RUBRICS_DIR,)):
        raise ConfigError(f"rubric file '{value}' is outside {RUBRICS_DIR}/",
                          expected=f"a file in {RUBRICS_DIR}/ ('{RUBRICS_DIR}/{path.name}')",
                          fix=f"move it to {RUBRICS_DIR}/ and write 'rubric: {path.stem}'")
    return path.stem
