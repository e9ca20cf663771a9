"""Data-quality rules per feature: a minimum, a maximum, the allowed categories, the largest missing share.

Rules are declared in goldband.yaml (``monitors.models.NAME.quality.rules``)
or inferred from the reference (``quality.infer: true``; a declared rule wins
over the inferred one of the same feature and kind). They are **thresholds
on the share of a window's rows that break them, not statistical tests**: a
rule is violated when that share is above its tolerance.

Declared rules are hard constraints: ``tolerance`` defaults to 0, so one age
below 0 in 500 rows is flagged (a value that cannot be right is worth a
look however rare). ``max_missing`` is itself a share: violated when the
window's missing share is above it.

Inferred rules must allow for what a finite reference cannot have seen, and
for chance in small windows, so each is violated only when its share is above
``infer_tolerance`` (1 %: fewer rows beyond the reference is the drift tests'
business, shown there as out-of-range and unseen shares) **and** the count
is improbable for healthy data, p < ``infer_alpha`` (0.001):

- numeric ``min``/``max``: the reference's minimum and maximum, no margin.
  For exchangeable data the mass below the minimum of ``n`` reference values
  is Beta(1, n), so the count of ``m`` window values below it is
  beta-binomial(m, 1, n) (the same for the maximum): an exact p-value for
  any continuous distribution;
- ``categories``: the categories seen. The share of rows in categories the
  reference never had is estimated by Good-Turing from the reference's ``s``
  singletons (Good 1953, "The population frequencies of species"); with its
  uncertainty, as Beta(s + 1, n - s + 1), the count of unseen rows is
  beta-binomial(m, s + 1, n - s + 1);
- ``max_missing``: the reference's missing share plus ``infer_missing_margin``
  (0.05); the count is tested against that limit (binomial).

The false-alarm rate of the inferred rules on healthy windows is measured by
``bench/bench_quality.py`` (docs/bench-quality.md), not asserted from theory.

Pure functions: rules and a window's columns (as ``window_columns`` returns
them: float arrays with NaN for missing, lists of category keys) in, results out.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from goldband.errors import MonitorError
from goldband.watch.records import category_key

if TYPE_CHECKING:
    from goldband.config.monitors import QualityConfig, QualityRuleConfig
    from goldband.watch.reference import Reference

__all__ = ["Rule", "RuleResult", "evaluate", "infer_rules", "resolve_rules"]

KINDS = ("min", "max", "categories", "max_missing")


@dataclass(frozen=True)
class Rule:
    """One rule on one feature."""

    feature: str
    kind: str  # min | max | categories | max_missing
    limit: float | tuple[str, ...]
    tolerance: float = 0.0  # the share of checked rows allowed to break it (max_missing: unused, the limit is a share)
    inferred: bool = False
    reference_rows: int = 0  # inferred: the reference values the limit came from
    null_share: float = 0.0  # inferred categories: the Good-Turing share of unseen categories
    alpha: float = 0.001  # inferred: the count must be this improbable for healthy data

    @property
    def name(self) -> str:
        return f"{self.feature}.{self.kind}"

    def describe(self) -> str:
        """``age >= 0``, ``plan in {free, pro}``, ``income missing <= 5%``."""
        if isinstance(self.limit, tuple):
            shown = ", ".join(self.limit[:6]) + (", ..." if len(self.limit) > 6 else "")
            return f"{self.feature} in {{{shown}}}"
        if self.kind == "max_missing":
            return f"{self.feature} missing <= {self.limit:.1%}"
        return f"{self.feature} {'>=' if self.kind == 'min' else '<='} {self.limit:g}"


@dataclass(frozen=True)
class RuleResult:
    """One rule in one window: how many rows broke it, and whether that is above its tolerance."""

    feature: str
    kind: str
    rule: str  # the rule in words
    n: int  # rows checked (present values; every row for max_missing)
    violations: int
    share: float  # violations / n (NaN when nothing was checked)
    tolerance: float
    violated: bool
    example: str = ""  # one offending value (the most frequent unseen category)
    inferred: bool = False
    p_value: float | None = None  # inferred rules: the chance of this many violations in healthy data

    @property
    def name(self) -> str:
        return f"{self.feature}.{self.kind}"

    def summary(self) -> str:
        """``age >= 0: 3 of 500 rows (0.6%) break it, e.g. -4``."""
        text = f"{self.rule}: {self.violations} of {self.n} rows ({self.share:.1%}) break it"
        text += f" (p={self.p_value:.2g})" if self.p_value is not None and self.violations else ""
        return text + (f", e.g. {self.example}" if self.example else "")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["share"] = None if math.isnan(self.share) else self.share
        return data


# -- the rules of a model ---------------------------------------------------------------------------


def resolve_rules(ref: Reference, quality: QualityConfig, *, where: str) -> list[Rule]:
    """The declared rules over the inferred ones; a rule on a feature the reference lacks is a MonitorError.

    ``where`` names the config key (``goldband.yaml: monitors.models.churn.quality``).
    """
    declared: list[Rule] = []
    for feature, cfg in quality.rules.items():
        _check_feature(ref, feature, cfg, where)
        declared += _declared(feature, cfg)
    rules = {(r.feature, r.kind): r for r in (infer_rules(ref, quality) if quality.infer else [])}
    rules.update({(r.feature, r.kind): r for r in declared})
    return list(rules.values())


def _check_feature(ref: Reference, feature: str, cfg: QualityRuleConfig, where: str) -> None:
    features = ref.spec.features
    if feature not in features:
        near = difflib.get_close_matches(feature, list(features), n=1)
        raise MonitorError(f"a quality rule names the feature {feature!r}, which the reference does not have",
                           where=f"{where}.rules.{feature}", expected=f"one of the reference's features: "
                           f"{', '.join(features)}", fix=f"did you mean {near[0]!r}?" if near else
                           "correct the feature name, or declare it in features")
    kind = features[feature]
    if kind == "categorical" and (cfg.min is not None or cfg.max is not None):
        raise MonitorError(f"min/max on {feature!r}, which is categorical in the reference",
                           where=f"{where}.rules.{feature}", expected="min/max on a numeric feature",
                           fix=f"use categories: [...], or declare {feature}: numeric in features")
    if kind == "numeric" and cfg.categories is not None:
        raise MonitorError(f"categories on {feature!r}, which is numeric in the reference",
                           where=f"{where}.rules.{feature}", expected="categories on a categorical feature",
                           fix=f"use min/max, or declare {feature}: categorical in features")


def _declared(feature: str, cfg: QualityRuleConfig) -> list[Rule]:
    rules = [Rule(feature, kind, float(limit), cfg.tolerance)
             for kind, limit in (("min", cfg.min), ("max", cfg.max)) if limit is not None]
    if cfg.categories is not None:
        allowed = tuple(str(category_key(c)) for c in cfg.categories)
        rules.append(Rule(feature, "categories", allowed, cfg.tolerance))
    if cfg.max_missing is not None:
        rules.append(Rule(feature, "max_missing", float(cfg.max_missing)))
    return rules


def infer_rules(ref: Reference, quality: QualityConfig) -> list[Rule]:
    """Rules every feature of the reference keeps (see the module docstring for when they count as broken)."""
    rules: list[Rule] = []

    def inferred(feature: str, kind: str, limit: float | tuple[str, ...], n: int, null: float = 0.0) -> Rule:
        return Rule(feature, kind, limit, quality.infer_tolerance, True, n, null, quality.infer_alpha)

    for feature, kind in ref.spec.features.items():
        if kind == "numeric":
            values = ref.numeric[feature]
            present, missing = values[~np.isnan(values)], int(np.isnan(values).sum())
            if len(present):
                rules += [inferred(feature, "min", float(present.min()), len(present)),
                          inferred(feature, "max", float(present.max()), len(present))]
        else:
            labels = [c for c in ref.categorical[feature] if c is not None]
            missing = len(ref.categorical[feature]) - len(labels)
            if labels:
                counts = Counter(labels)
                singletons = sum(1 for c in counts.values() if c == 1)
                rules.append(inferred(feature, "categories", tuple(sorted(counts)), len(labels),
                                      (singletons + 1) / (len(labels) + 1)))
        limit = missing / max(1, ref.rows) + quality.infer_missing_margin
        if limit < 1.0:
            rules.append(Rule(feature, "max_missing", limit, reference_rows=ref.rows, inferred=True,
                              alpha=quality.infer_alpha))
    return rules


# -- a window against them ----------------------------------------------------------------------------


def evaluate(rules: list[Rule], columns: dict[str, Any]) -> list[RuleResult]:
    """Each rule against the window's ``columns``; a feature absent from ``columns`` is skipped."""
    return [_one(rule, columns[rule.feature]) for rule in rules if rule.feature in columns]


def _one(rule: Rule, values: Any) -> RuleResult:
    if rule.kind == "max_missing" and not isinstance(rule.limit, tuple):
        n = len(values)
        bad = int(np.isnan(values).sum()) if isinstance(values, np.ndarray) else values.count(None)
        floor, example = rule.limit, ""
    elif isinstance(rule.limit, tuple):
        n, bad, example = _categories(values, rule.limit)
        floor = rule.tolerance
    else:
        n, bad, example = _bound(values, rule.kind, rule.limit)
        floor = rule.tolerance
    share = bad / n if n else math.nan
    p = _p_value(rule, n, bad) if rule.inferred else None
    violated = bool(bad and share > floor and (p is None or p < rule.alpha))
    return RuleResult(rule.feature, rule.kind, rule.describe(), n, bad, share, floor, violated, example,
                      rule.inferred, p)


def _p_value(rule: Rule, n: int, bad: int) -> float:
    """The chance of at least ``bad`` violations in ``n`` healthy rows (module docstring)."""
    from scipy import stats

    if not bad:
        return 1.0
    if rule.kind in ("min", "max"):
        return float(stats.betabinom.sf(bad - 1, n, 1, rule.reference_rows))
    if isinstance(rule.limit, tuple):  # unseen mass ~ Beta(s + 1, n - s + 1): Good-Turing, with its uncertainty
        singletons = round(rule.null_share * (rule.reference_rows + 1)) - 1
        return float(stats.betabinom.sf(bad - 1, n, singletons + 1, rule.reference_rows - singletons + 1))
    return float(stats.binom.sf(bad - 1, n, rule.limit))


def _bound(values: Any, kind: str, limit: float) -> tuple[int, int, str]:
    array = np.asarray(values, dtype=np.float64)
    present = array[~np.isnan(array)]
    broken = present[present < limit] if kind == "min" else present[present > limit]
    example = f"{float(broken.min() if kind == 'min' else broken.max()):g}" if len(broken) else ""
    return len(present), len(broken), example


def _categories(values: list[str | None], allowed: tuple[str, ...]) -> tuple[int, int, str]:
    keep = set(allowed)
    present = [v for v in values if v is not None]
    unseen = Counter(v for v in present if v not in keep)
    example = repr(unseen.most_common(1)[0][0]) if unseen else ""
    return len(present), sum(unseen.values()), example
