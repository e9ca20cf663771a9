"""Similarity of the output to a reference text (rapidfuzz, normalised to [0, 1])."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from goldband.checks.base import CheckContext, CheckResult, CheckSpec, register
from goldband.errors import CheckError


@register("similarity")
class Similarity(CheckSpec):
    """Pass when similarity to ``to`` (default: the case's reference) reaches ``threshold``.

    ``levenshtein`` is the normalised Indel/Levenshtein similarity of the whole
    texts; ``token_set`` ignores word order and repeated words.
    """

    primary = "to"
    to: str | None = None
    threshold: float = Field(0.8, ge=0.0, le=1.0)
    method: Literal["levenshtein", "ratio", "token_set"] = "levenshtein"
    case_sensitive: bool = False

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        want = self.to if self.to is not None else ctx.reference
        if want is None:
            raise CheckError("no text to compare with: give 'to:' or a case 'reference'")
        a, b = ctx.output.strip(), want.strip()
        if not self.case_sensitive:
            a, b = a.casefold(), b.casefold()
        value = similarity(a, b, self.method)
        ok = value >= self.threshold
        return CheckResult(ok, value, f"similarity {value:.2f} {'>=' if ok else '<'} {self.threshold}")


def similarity(a: str, b: str, method: str) -> float:
    from rapidfuzz import distance, fuzz

    if method == "levenshtein":
        return float(distance.Levenshtein.normalized_similarity(a, b))
    if method == "ratio":
        return float(fuzz.ratio(a, b)) / 100.0
    return float(fuzz.token_set_ratio(a, b)) / 100.0
