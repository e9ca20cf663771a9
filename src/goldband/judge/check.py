"""The ``rubric`` check: grade the output with the LLM judge against ``rubrics/NAME.yaml``.

    - rubric: policy-adherence
      min_score: 4            # optional: overrides the rubric's ``pass`` (on its scale)

The rubric file is loaded and validated when the golden set loads, so an unknown
name or a bad rubric is a collection error with file:line. The check is
``judged``: the engine hands it to the run's judge (``JudgeRuntime.grade``),
which makes one request per output for all criteria and returns a gating
``rubric`` score plus one non-gating ``rubric-criterion`` score per criterion,
or one *error* score with the evidence. The checks package finds this check by
name (``goldband.checks.base.ELSEWHERE``), so it never imports the judge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr

from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register
from goldband.config.project import JudgeConfig
from goldband.errors import CheckError, ConfigError
from goldband.judge.endpoint import rubric_identity
from goldband.judge.rubric import Rubric, load_rubric


@register("rubric")
class RubricCheck(CheckSpec):
    primary = "rubric"
    judged = True

    rubric: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=80)
    min_score: float | None = None
    _loaded: Rubric | None = PrivateAttr(default=None)

    def describe(self) -> str:
        return self.label or f"rubric {self.rubric}"

    def prepare(self, base_dir: Path) -> None:
        try:
            rubric = load_rubric(self.rubric, base_dir)
        except ConfigError as exc:
            if exc.where is not None:  # an error inside the rubric file names that file's line
                raise
            raise CheckError(exc.render()) from None
        if self.min_score is not None and not rubric.scale_min <= self.min_score <= rubric.scale_max:
            raise CheckError(f"min_score {self.min_score:g} is outside the scale {rubric.scale_text} of rubric "
                             f"'{rubric.name}'; expected a score from {rubric.scale_min} to {rubric.scale_max}; "
                             "fix: use the rubric's scale, or remove min_score to use its 'pass'")
        self._loaded = rubric

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
