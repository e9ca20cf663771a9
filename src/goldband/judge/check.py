"""The ``rubric`` check: grade the output with the LLM judge against ``rubrics/NAME.yaml``.

    - rubric: policy-adherence
      min_score: 4            # optional: overrides the rubric's ``pass`` (on its scale)

The rubric file is loaded and validated when the golden set loads, so an unknown
name or a bad rubric is a collection error with file:line. Scoring happens in
``arun``, through the run's judge (``goldband.judge.runtime``): one request per
output for all criteria, a gating ``rubric`` score plus one non-gating
``rubric-criterion`` score per criterion, or one *error* score with the evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, PrivateAttr

from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register
from goldband.errors import CheckError, ConfigError
from goldband.results import Score

if TYPE_CHECKING:
    from goldband.judge.rubric import Rubric


@register("rubric")
class RubricCheck(CheckSpec):
    primary = "rubric"

    rubric: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=80)
    min_score: float | None = None
    _loaded: Any = PrivateAttr(default=None)
    _root: Path | None = PrivateAttr(default=None)

    def describe(self) -> str:
        return self.label or f"rubric {self.rubric}"

    def prepare(self, base_dir: Path) -> None:
        from goldband.judge.rubric import load_rubric

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
        self._root = base_dir

    def loaded(self, base_dir: Path) -> Rubric:
        """The validated rubric (loaded by ``prepare`` when the golden set loaded, else now)."""
        if self._loaded is None:
            self.prepare(base_dir)
        rubric: Rubric = self._loaded
        return rubric

    def store_identity(self) -> dict[str, Any]:
        """The rubric and judge this check scores with, for the store (goldband.session.recorder.records)."""
        from goldband.session.judging import identity

        if self._loaded is None or self._root is None:
            raise CheckError(f"rubric '{self.rubric}' was not loaded (prepare was not called)")
        return identity(self._loaded, self._root)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        raise CheckError("a rubric check needs the judge; it runs only inside a goldband run (arun)")

    async def arun(self, ctx: CheckContext, services: Any) -> list[Score]:
        from goldband.judge.prompt import judge_data, output_text
        from goldband.judge.runtime import JudgeRuntime, Subject
        from goldband.judge.scoring import SampleResult, rubric_scores

        rubric = self.loaded(ctx.base_dir)
        threshold = self.min_score if self.min_score is not None else rubric.pass_score
        runtime = JudgeRuntime.of(services)
        if runtime is None:
            return [Score(self.describe(), "error", 0.0, "no judge in this run (services.extras has no 'judge')",
                          kind="rubric")]
        meta = runtime.meta(rubric)
        gate = runtime.gate(rubric)
        if rubric.show_reference and ctx.reference is None:
            miss = SampleResult(0, None, f"rubric '{rubric.name}' grades against the reference, but case "
                                f"'{ctx.trial.case_id}' has none; fix: add 'reference:' to the case", None, "none",
                                "config")
            return rubric_scores(rubric, self.describe(), threshold, [miss], gate, meta)
        data = judge_data(rubric, output_text(ctx.trial), ctx.case_input, ctx.reference)
        subject = Subject(ctx.trial.case_id, ctx.trial.target)
        results = await runtime.judge(services.engine, rubric, data, subject, range(rubric.samples))
        return rubric_scores(rubric, self.describe(), threshold, results, gate, meta)
