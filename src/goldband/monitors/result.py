"""The result of a batch drift test, and the one rule that sets its ``drifted`` flag."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from goldband.errors import MonitorError

__all__ = ["DriftResult"]


@dataclass(frozen=True, slots=True)
class DriftResult:
    """One batch test of a current sample against a reference sample.

    ``statistic`` is the test's own statistic, ``p_value`` is ``None`` for tests
    without one (PSI, Wasserstein, Jensen-Shannon) and NaN when undefined (an
    empty sample), ``effect_size`` is on a scale where ``min_effect`` means
    something whatever the sample size. ``drifted`` needs **both** significance
    (``p_value < alpha``, when the test has a p-value) **and**
    ``effect_size >= min_effect``: with a million rows every negligible shift is
    significant, so significance alone would alarm every night. Undefined
    results (NaN) are never drifted. ``detail`` says why, in one line.

    ``out_of_range_share`` (binned numeric tests: PSI, Jensen-Shannon) is the
    share of the current sample below the reference's minimum or above its
    maximum; ``unseen_share`` (chi-square) is the share of the current sample
    in categories the reference never had. ``None`` where the test does not
    measure it or the result is undefined.
    """

    test: str
    statistic: float
    p_value: float | None
    effect_size: float
    drifted: bool
    detail: str = ""
    out_of_range_share: float | None = None
    unseen_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (NaN stays NaN; the store decides)."""
        return asdict(self)


def check_knobs(test: str, *, alpha: float | None = None, min_effect: float) -> None:
    """Reject an ``alpha`` outside (0, 1) or a negative or NaN ``min_effect``."""
    if alpha is not None and not 0.0 < alpha < 1.0:
        raise MonitorError(f"alpha={alpha!r}", where=f"{test}()", expected="a number in (0, 1)")
    if not min_effect >= 0.0:
        raise MonitorError(f"min_effect={min_effect!r}", where=f"{test}()",
                           expected="a number >= 0")


def decide(
    test: str,
    statistic: float,
    p_value: float | None,
    effect_size: float,
    *,
    alpha: float | None = None,
    min_effect: float,
    detail: str,
    out_of_range_share: float | None = None,
    unseen_share: float | None = None,
) -> DriftResult:
    """Build the result; ``drifted`` by the rule in ``DriftResult``'s docstring."""
    significant = p_value is None or (alpha is not None and p_value < alpha)
    large = effect_size >= min_effect
    if math.isnan(effect_size) or (p_value is not None and math.isnan(p_value)):
        verdict = "undefined"
    elif significant and large:
        verdict = "drifted"
    elif not large:
        verdict = f"no drift: effect {effect_size:.4g} < min_effect {min_effect:g}"
    else:
        verdict = f"no drift: p {p_value:.3g} >= alpha {alpha:g}"
    return DriftResult(test, float(statistic), None if p_value is None else float(p_value),
                       float(effect_size), verdict == "drifted", f"{detail}; {verdict}",
                       out_of_range_share, unseen_share)


def undefined(test: str, why: str, *, has_p_value: bool) -> DriftResult:
    """The NaN result for input on which the test is not defined (an empty sample)."""
    nan = math.nan
    return DriftResult(test, nan, nan if has_p_value else None, nan, False, f"undefined: {why}")
