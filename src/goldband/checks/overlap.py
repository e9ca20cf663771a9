"""Text-overlap metrics against the reference: ``bleu`` (sacreBLEU) and ``rouge`` (Google's rouge-score).

Both are an optional extra, ``pip install 'goldband[overlap]'``: the metrics come from
the libraries that define them, never re-implemented here. A golden set that uses
either without the extra installed fails to load with a ConfigError naming the
extra and the command, not an ImportError. ::

    - bleu: 0.4                    # pass when sentence BLEU >= 0.4 (0-1; sacreBLEU's 40 on 0-100)
    - rouge: 0.5                   # pass when ROUGE-L F1 >= 0.5
      metric: rouge2               # rouge1 | rouge2 | rougeL | rougeLsum
      reference: ["Returns within 30 days.", "30-day returns."]   # default: the case's reference

The score is the metric itself on [0, 1]. Several references: BLEU counts them all
at once (multi-reference BLEU, as sacreBLEU does); ROUGE takes the best-matching one
(as ``RougeScorer.score_multi`` does).
"""

from __future__ import annotations

import importlib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from goldband.checks.base import REGISTRY, CheckContext, CheckResult, CheckSpec, register
from goldband.errors import CheckError

for _stale in ("bleu", "rouge"):  # a re-import (pytester drops the modules a run imported) registers them afresh
    if getattr(REGISTRY.get(_stale), "__module__", None) == __name__:
        del REGISTRY[_stale]

EXTRA = "overlap"
INSTALL = f"pip install 'goldband[{EXTRA}]'"


def require(module: str, distribution: str, check: str) -> Any:
    """Import ``module`` of the optional extra, or a CheckError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise CheckError(f"needs {distribution}, which is not installed; expected the optional extra "
                         f"goldband[{EXTRA}] for the '{check}' check; fix: {INSTALL}") from None


def _non_empty(value: str | list[str] | None) -> str | list[str] | None:
    if isinstance(value, list) and not value:
        raise ValueError("an empty list compares with nothing; give at least one reference")
    return value


class _Overlap(CheckSpec):
    """What both metrics share: the threshold (the primary value) and the references."""

    primary = "min"
    min: float = Field(0.5, ge=0.0, le=1.0)
    reference: str | list[str] | None = None

    _checked = field_validator("reference")(_non_empty)

    @field_validator("min", mode="before")
    @classmethod
    def _unit_scale(cls, value: Any) -> Any:
        """``- rouge:`` with no value takes the default; a 0-100 number is caught with its 0-1 spelling."""
        if value is None:
            return cls.model_fields["min"].default
        if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value <= 100:
            raise ValueError(f"scores here are on 0-1, not 0-100: write {value / 100:g} for {value:g}")
        return value

    def describe(self) -> str:
        return self.label or f"{self._title()} >= {self.min:g}"

    def _title(self) -> str:
        return self.name

    def _verdict(self, name: str, value: float, extra: str) -> CheckResult:
        ok = value >= self.min
        return CheckResult(ok, value, f"{name} {value:.3f} {'>=' if ok else '<'} {self.min:g} ({extra})")


@register("bleu")
class Bleu(_Overlap):
    """Pass when the sentence BLEU of the output against the reference(s) reaches ``min`` (0-1).

    sacreBLEU's ``BLEU(effective_order=True)`` (the setting its authors give for
    single sentences), default tokenizer ``13a``; ``lowercase`` and ``tokenize``
    are passed through. The detail carries sacreBLEU's signature, so a score can be
    reproduced exactly.
    """

    tokenize: Literal["13a", "intl", "char", "none", "zh"] = "13a"
    lowercase: bool = False

    def prepare(self, base_dir: Path) -> None:
        self.scorer  # noqa: B018  (imports sacreBLEU: a missing extra surfaces at load)

    @cached_property
    def scorer(self) -> Any:
        metrics = require("sacrebleu.metrics", "sacrebleu", "bleu")
        return metrics.BLEU(effective_order=True, tokenize=self.tokenize, lowercase=self.lowercase)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        refs = ctx.references(self.reference)
        result = self.scorer.sentence_score(ctx.output, refs)
        signature = self.scorer.get_signature().format(short=True)
        return self._verdict("BLEU", float(result.score) / 100.0, f"sacreBLEU {result.score:.1f}/100, {signature}")


@register("rouge")
class Rouge(_Overlap):
    """Pass when ROUGE (``metric``, its ``measure``) of the output against the reference reaches ``min``.

    Google's ``rouge_score.RougeScorer`` with its Porter stemmer on by default
    (``stemmer: false`` turns it off); ``measure`` is ``fmeasure`` (F1, default),
    ``precision`` or ``recall``. With several references the best one counts.
    """

    metric: Literal["rouge1", "rouge2", "rougeL", "rougeLsum"] = "rougeL"
    measure: Literal["fmeasure", "precision", "recall"] = "fmeasure"
    stemmer: bool = True

    def _title(self) -> str:
        return f"rouge {self.metric}"

    def prepare(self, base_dir: Path) -> None:
        self.scorer  # noqa: B018  (imports rouge-score: a missing extra surfaces at load)

    @cached_property
    def scorer(self) -> Any:
        module = require("rouge_score.rouge_scorer", "rouge-score", "rouge")
        return module.RougeScorer([self.metric], use_stemmer=self.stemmer)

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        refs = ctx.references(self.reference)
        values = [getattr(self.scorer.score(ref, ctx.output)[self.metric], self.measure) for ref in refs]
        best = max(range(len(values)), key=values.__getitem__)
        which = f", best of {len(refs)} references: #{best + 1}" if len(refs) > 1 else ""
        return self._verdict(self.metric, float(values[best]), f"{self.measure}{which}")
