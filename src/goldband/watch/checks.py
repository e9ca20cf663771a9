"""One window of predictions against the reference: input drift per feature, and the model's outputs.

Input drift. Each numeric feature is tested with ``numeric_test`` (default
two-sample Kolmogorov-Smirnov), each categorical one with chi-square; where
either side has missing values, their share is tested too (chi-square on
missing vs present; only a rise is flagged). A test drifts when it is both
significant after **Benjamini-Hochberg across all of the window's feature
tests** (adjusted p <= ``alpha``) and at least ``min_effect`` in size (KS: D;
chi-square: Cramér's V; PSI, Wasserstein, Jensen-Shannon have no p-value and
need only the effect). A window has input drift when at least
``min_drifted_features`` features drift.

Outputs. The predicted classes against the reference's predictions
(chi-square; KS for regression), the confidence distribution (KS), the share
of low-confidence predictions (below ``low_confidence``; chi-square on a 2x2
table, flagged only when it rises), and collapse: one class taking at least
``collapse_share`` of the window's predictions when it did not in the
reference. Benjamini-Hochberg again across the output tests.

Values never seen in the reference. Every numeric row carries
``out_of_range_share`` (the window's share below the reference's minimum or
above its maximum) and every categorical row ``unseen_share`` (the share in
labels the reference never had); a share above 0 is also in the row's
``value`` text, so the check summary and the status view show it.

Pure functions: rows in, results out; the caller reads and writes the store.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from goldband.monitors import fdr
from goldband.monitors.categorical import chi2
from goldband.monitors.registry import BATCH_TESTS
from goldband.watch.joint import joint_drift
from goldband.watch.records import category_key, number
from goldband.watch.rows import TestRow

if TYPE_CHECKING:
    import numpy.typing as npt

    from goldband.config.monitors import ModelMonitorConfig
    from goldband.watch.db import StoredPrediction
    from goldband.watch.reference import Reference

Parsed = tuple[dict[str, Any], dict[str, dict[str, int]], dict[str, str]]  # what window_columns returns

__all__ = ["TestRow", "WindowCheck", "check_window", "input_drift", "window_columns"]


@dataclass(frozen=True)
class WindowCheck:
    """Every test of one window, and the window's verdicts."""

    n: int
    features: list[TestRow]
    outputs: list[TestRow]
    input_drifted: bool
    output_drifted: bool
    issues: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> field -> rows
    examples: dict[str, str] = field(default_factory=dict)  # kind -> one message
    joint: TestRow | None = None  # the multivariate test of all features together; None when switched off

    @property
    def drifted_features(self) -> list[str]:
        return list(dict.fromkeys(r.name for r in self.features if r.drifted))

    @property
    def drifted_outputs(self) -> list[str]:
        return [r.name for r in self.outputs if r.drifted]

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "features": [r.to_json() for r in self.features],
                "outputs": [r.to_json() for r in self.outputs], "issues": self.issues, "examples": self.examples,
                "joint": None if self.joint is None else self.joint.to_json()}


def check_window(ref: Reference, rows: Sequence[StoredPrediction], cfg: ModelMonitorConfig,
                 parsed: Parsed | None = None) -> WindowCheck:
    """Input drift (per feature, and jointly) and output tests of ``rows`` against ``ref``.

    ``parsed``: ``window_columns(ref, rows)`` when the caller already has it. The
    joint test's p-value joins the features' Benjamini-Hochberg family, so
    adding it does not raise the window's false-alarm rate; a window has input
    drift when ``min_drifted_features`` features drift **or** the joint test
    does (significant after the correction, and at least its minimum effect).
    """
    columns, issues, examples = parsed or window_columns(ref, rows)
    tests = feature_tests(ref, columns, cfg)
    joint = None if cfg.multivariate == "off" else joint_drift(
        ref, columns, alpha=cfg.alpha, min_effect=cfg.multivariate_min_effect, method=cfg.multivariate, seed=0)
    if joint is not None and joint.p_value is None:  # skipped (too few rows or features): kept, never drifted
        tests = _adjust(tests, cfg.alpha)
    else:
        tests = _adjust(tests + ([joint] if joint is not None else []), cfg.alpha)
        joint = tests.pop() if joint is not None else None
    features = tests
    drifted = len({r.name for r in features if r.drifted}) >= cfg.min_drifted_features or bool(joint and joint.drifted)
    outputs = _output_tests(ref, rows, cfg)
    return WindowCheck(len(rows), features, outputs, drifted, any(r.drifted for r in outputs), issues, examples,
                       joint)


def input_drift(ref: Reference, columns: dict[str, Any], cfg: ModelMonitorConfig) -> list[TestRow]:
    """The feature tests (distribution and missing share), Benjamini-Hochberg across them."""
    return _adjust(feature_tests(ref, columns, cfg), cfg.alpha)


def feature_tests(ref: Reference, columns: dict[str, Any], cfg: ModelMonitorConfig) -> list[TestRow]:
    """The feature tests (distribution and missing share) before the multiple-testing correction."""
    tests: list[TestRow | None] = []
    for name, kind in ref.spec.features.items():
        if kind == "numeric":
            tests.append(_numeric(name, ref.numeric[name], columns[name], cfg))
            tests.append(_missing(name, int(np.isnan(ref.numeric[name]).sum()), len(ref.numeric[name]),
                                  int(np.isnan(columns[name]).sum()), len(columns[name]), cfg))
        else:
            tests.append(_categorical(name, ref.categorical[name], columns[name], cfg))
            tests.append(_missing(name, _reference_facts(ref.categorical[name]).missing, len(ref.categorical[name]),
                                  columns[name].count(None), len(columns[name]), cfg))
    return [t for t in tests if t is not None]


# -- reading a window ------------------------------------------------------------------------


def window_columns(ref: Reference, rows: Sequence[StoredPrediction]) -> tuple[dict[str, Any], dict[str, dict[str, int]],
                                                                         dict[str, str]]:
    """Per feature, the window's values (NaN/None for missing); and the data issues found.

    Column at a time: a window whose rows share one stored layout (the usual case) is transposed in one
    step, with no dict per row; a numeric column converts in one pass (``_numeric_column``), and only a
    column with a value that is not a number goes value by value to count it.
    """
    spec = ref.spec.features
    issues: dict[str, Counter[str]] = {"unknown_feature": Counter(), "wrong_type": Counter()}
    examples: dict[str, str] = {}
    raw, present = _raw_columns(rows, spec)
    for name in sorted(present.keys() - spec.keys()):
        issues["unknown_feature"][name] += present[name]
    columns: dict[str, Any] = {}
    for name, kind in spec.items():
        if kind == "numeric":
            columns[name] = _numeric_column(rows, name, raw[name], issues["wrong_type"], examples)
        else:
            columns[name] = [v if type(v) is str else category_key(v) for v in raw[name]]
    absent = [name for name in spec if not present.get(name)]
    if rows and spec and len(absent) == len(spec):
        examples["schema_mismatch"] = (f"none of the reference's features ({', '.join(list(spec)[:5])}) are in the "
                                       f"logged predictions ({', '.join(sorted(rows[0].features)[:5])})")
        issues["schema_mismatch"] = Counter({"": len(rows)})
    elif rows and absent:  # a feature the logger or the export stopped sending: one clear line, not a mystery
        issues["missing_feature"] = Counter(dict.fromkeys(absent, len(rows)))
        examples["missing_feature"] = (
            f"feature {absent[0]!r} of the reference is in none of the window's {len(rows)} predictions"
            + (f" (nor are {', '.join(map(repr, absent[1:4]))})" if len(absent) > 1 else "")
            + ": its missing share is tested as 100 %; log it again, or register a reference without it")
    for name, count in issues["unknown_feature"].items():
        examples.setdefault("unknown_feature", f"feature {name!r} is not in the reference ({count} rows)")
    return columns, {k: dict(v) for k, v in issues.items() if v}, examples


def _raw_columns(rows: Sequence[StoredPrediction], spec: dict[str, str]
                 ) -> tuple[dict[str, Sequence[Any]], Counter[str]]:
    """Each reference feature's stored values (None where a row lacks it), and how many rows have each name."""
    layout = rows[0].layout if rows else None
    if layout is not None and all(r.layout is layout for r in rows):
        stored = list(zip(*[r.values for r in rows], strict=True)) or [()] * len(layout.names)
        missing = (None,) * len(rows)
        present = Counter(dict.fromkeys(layout.names, len(rows)))
        return {name: stored[layout.positions[name]] if name in layout.positions else missing
                for name in spec}, present
    present = Counter(name for r in rows for name in (r.layout.names if r.layout else r.values))
    return {name: [r.feature(name) for r in rows] for name in spec}, present


def _numeric_column(rows: Sequence[StoredPrediction], name: str, raw: Sequence[Any], wrong: Counter[str],
                    examples: dict[str, str]) -> npt.NDArray[np.float64]:
    """One numeric feature as float64, NaN for missing or non-finite (``float()`` as ``number()`` does);
    a value that is not a number is counted as ``wrong_type`` by ``_numeric_value``."""
    try:
        values = np.array(raw, dtype=np.float64)  # None is NaN; text is read as float() reads it
    except (TypeError, ValueError):  # '' or a word: the slow path finds and counts it
        return np.array([_numeric_value(row, name, wrong, examples) for row in rows], dtype=np.float64)
    values[~np.isfinite(values)] = math.nan
    return values


def _numeric_value(row: StoredPrediction, name: str, wrong: Counter[str], examples: dict[str, str]) -> float:
    raw = row.feature(name)
    try:
        value = number(raw)
    except ValueError:
        wrong[name] += 1
        examples.setdefault("wrong_type", f"prediction {row.prediction_id!r}: feature {name!r} is numeric in the "
                                          f"reference but was {raw!r}; counted as missing")
        return math.nan
    return math.nan if value is None or not math.isfinite(value) else value


# -- the tests --------------------------------------------------------------------------------


def _numeric(name: str, ref: npt.NDArray[np.float64], cur: npt.NDArray[np.float64],
             cfg: ModelMonitorConfig) -> TestRow:
    test, floor = cfg.numeric_test, cfg.effect_floor(cfg.numeric_test)
    knobs: dict[str, Any] = {"min_effect": floor, "nan_policy": "omit"}
    if test == "ks":
        knobs.update(alpha=cfg.alpha, exact_max_n=cfg.exact_max_n)
    elif test in ("psi", "jensen_shannon"):
        knobs["bins"] = cfg.bins
    result = BATCH_TESTS[test](ref, cur, **knobs)
    shown, ref_shown = cur[~np.isnan(cur)], ref[~np.isnan(ref)]
    outside = result.out_of_range_share
    if outside is None and len(shown) and len(ref_shown):  # KS, Wasserstein: measured here
        outside = float(np.mean((shown < ref_shown.min()) | (shown > ref_shown.max())))
    return TestRow(name, "numeric", test, result.statistic, result.p_value, result.effect_size, floor,
                   value=f"mean {_g(shown)}" + _share_note(outside, "out of range"),
                   reference=f"mean {_g(ref_shown)}", n=len(shown), out_of_range_share=outside)


def _categorical(name: str, ref: list[str | None], cur: list[str | None], cfg: ModelMonitorConfig) -> TestRow:
    floor = cfg.effect_floor("chi2")
    counted = _reference_facts(ref)
    result = chi2(counted.counts, cur, alpha=cfg.alpha, min_effect=floor, nan_policy="omit")
    present = [c for c in cur if c is not None]
    return TestRow(name, "categorical", "chi2", result.statistic, result.p_value, result.effect_size, floor,
                   value=_top(present) + _share_note(result.unseen_share, "unseen"),
                   reference=counted.top, n=len(present), unseen_share=result.unseen_share)


@dataclass(frozen=True)
class _Counted:
    """A reference column counted once: its labels' counts (missing left out), the missing count, the top label."""

    counts: Counter[Any]  # what chi2 takes for a sample: missing values under None
    missing: int
    top: str
    share: dict[Any, float]  # each present label's share of the present values


_FACTS: dict[int, tuple[list[Any], _Counted]] = {}  # id -> (the reference column itself, what was counted)


def _reference_facts(values: list[Any]) -> _Counted:
    """A reference column counted once, not per window (twenty windows a second each re-counted 20,000 rows).

    Keyed by identity; the entry holds the list itself, so its id cannot be reused while cached. Reference
    columns are never changed after loading.
    """
    hit = _FACTS.get(id(values))
    if hit is not None and hit[0] is values:
        return hit[1]
    if len(_FACTS) > 256:
        _FACTS.clear()
    counts = Counter(values)
    missing = counts[None]
    present = {k: n for k, n in counts.items() if k is not None}
    total = len(values) - missing
    top = max(present.items(), key=lambda kv: kv[1], default=None)  # the first of equals, as most_common
    counted = _Counted(+counts, missing, "-" if top is None else f"{top[0]!r} {top[1] / total:.0%}",
                       {k: n / total for k, n in present.items()})
    _FACTS[id(values)] = (values, counted)
    return counted


def _missing(name: str, ref_missing: int, ref_n: int, cur_missing: int, cur_n: int,
             cfg: ModelMonitorConfig) -> TestRow | None:
    if not (ref_missing or cur_missing) or not ref_n or not cur_n:
        return None
    return _share_test(name, "missing", ref_missing, ref_n, cur_missing, cur_n, cfg, "missing")


def _share_test(name: str, kind: str, ref_hits: int, ref_n: int, cur_hits: int, cur_n: int,
                cfg: ModelMonitorConfig, what: str) -> TestRow:
    """Chi-square on a 2x2 table of (hit, miss) counts: a share that may only be flagged when it rises."""
    floor = cfg.effect_floor("chi2")
    result = chi2({"hit": ref_hits, "miss": ref_n - ref_hits}, {"hit": cur_hits, "miss": cur_n - cur_hits},
                  alpha=cfg.alpha, min_effect=floor)
    rose = cur_hits / cur_n > ref_hits / ref_n
    effect = result.effect_size if rose else 0.0  # a falling share is good news: never flagged
    return TestRow(name, kind, "chi2", result.statistic, result.p_value, effect, floor,
                   value=f"{what} {cur_hits / cur_n:.1%}", reference=f"{what} {ref_hits / ref_n:.1%}", n=cur_n)


def _output_tests(ref: Reference, rows: Sequence[StoredPrediction], cfg: ModelMonitorConfig) -> list[TestRow]:
    tests: list[TestRow] = []
    ks_cfg = cfg.model_copy(update={"numeric_test": "ks"})  # outputs are always compared with KS
    if ref.spec.task == "regression":
        if ref.predictions is not None:
            cur = np.array([_safe(r.prediction) for r in rows], dtype=np.float64)
            refs = np.array([math.nan if p is None else p for p in ref.predictions], dtype=np.float64)
            tests.append(replace(_numeric("prediction", refs, cur, ks_cfg), kind="output"))
        return _adjust(tests, cfg.alpha)
    predicted = [category_key(r.prediction) for r in rows]
    if ref.predictions is not None:
        tests.append(replace(_categorical("prediction", ref.predictions, predicted, cfg), kind="output"))
    confidence = np.array([math.nan if r.confidence is None else r.confidence for r in rows], dtype=np.float64)
    if ref.confidence is not None and (~np.isnan(confidence)).any():
        tests.append(replace(_numeric("confidence", ref.confidence, confidence, ks_cfg), kind="output"))
        tests.append(_low_confidence(ref.confidence, confidence, cfg))
    tests = _adjust(tests, cfg.alpha)
    collapse = _collapse(ref.predictions, predicted, cfg)
    return tests + ([collapse] if collapse else [])


def _low_confidence(ref: npt.NDArray[np.float64], cur: npt.NDArray[np.float64], cfg: ModelMonitorConfig) -> TestRow:
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    return _share_test("low_confidence_share", "output", int((ref < cfg.low_confidence).sum()), len(ref),
                       int((cur < cfg.low_confidence).sum()), len(cur), cfg, f"< {cfg.low_confidence:g}")


def _collapse(ref: list[Any] | None, cur: list[str | None], cfg: ModelMonitorConfig) -> TestRow | None:
    present = [c for c in cur if c is not None]
    if not present:
        return None
    top, count = Counter(present).most_common(1)[0]
    share = count / len(present)
    counted = _reference_facts(ref) if ref is not None else None
    known = bool(counted and counted.share)
    ref_share = counted.share.get(top, 0.0) if counted and known else math.nan
    flagged = share >= cfg.collapse_share and not ref_share >= cfg.collapse_share
    return TestRow("collapse", "output", "rule", share, None, share, cfg.collapse_share, flagged,
                   value=f"{top!r} {share:.0%}", reference=f"{top!r} {ref_share:.0%}" if known else "",
                   n=len(present))


def _adjust(tests: list[TestRow], alpha: float) -> list[TestRow]:
    """Benjamini-Hochberg adjusted p-values, and each test's drifted flag (adjusted p and effect)."""
    with_p = {i: t.p_value for i, t in enumerate(tests) if t.p_value is not None and math.isfinite(t.p_value)}
    values, _ = fdr.adjust(list(with_p.values()), alpha=alpha)
    adjusted = {i: float(v) for i, v in zip(with_p, values, strict=True)}
    out = []
    for i, t in enumerate(tests):
        p_adj = adjusted.get(i)
        significant = p_adj <= alpha if p_adj is not None else t.p_value is None
        drifted = significant and math.isfinite(t.effect) and t.effect >= t.threshold
        out.append(replace(t, p_adjusted=p_adj, drifted=bool(drifted)))
    return out


def _safe(value: Any) -> float:
    try:
        result = number(value)
    except ValueError:
        return math.nan
    return math.nan if result is None else result


def _g(values: npt.NDArray[np.float64]) -> str:
    return f"{float(values.mean()):.4g}" if len(values) else "-"


def _share_note(share: float | None, what: str) -> str:
    """``", 12.5% out of range"`` for a share above 0, else ''."""
    return f", {share:.1%} {what}" if share else ""


def _top(values: list[str]) -> str:
    if not values:
        return "-"
    label, count = Counter(values).most_common(1)[0]
    return f"{label!r} {count / len(values):.0%}"
