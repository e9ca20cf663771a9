"""Is a golden set going stale? How far its inputs sit from production's, and how old its cases are.

``compare_inputs`` tests whether a golden set's inputs and recent production
inputs could come from one distribution, with production as the reference
and the golden set as the sample under test (so a row's ``value`` is the
golden set's side and its ``reference`` production's):

- every feature of ``goldband.watch.textstats`` (length, tokens, digits, ...)
  with a two-sample Kolmogorov-Smirnov test (``goldband.monitors.ks``; the
  effect is the KS distance D; exact p-values, conservative for the features
  that take few values, such as ``lines`` and ``question``);
- the shares of tags (or categories) with a chi-square test
  (``goldband.monitors.chi2``; effect Cramér's V), only when both sides have
  tags. Each tag of a text counts once (a text with two tags adds two counts),
  texts without tags are left out (a log that tags only some traces is not
  drift), and tags so rare that a cell's expected count is below 5 are pooled
  into ``(other)`` (Cochran's rule: below it the chi-square p-value is too
  small and small golden sets would raise false alarms);
- when both sides have embeddings, the kernel MMD test of
  ``goldband.monitors.multivariate.MMDDrift`` (permutation p-value; effect
  MMD^2): fitted on production (half of it sets the kernel, at most 500 other
  rows are the reference), the golden set's rows tested against it.

All of them are one Benjamini-Hochberg family (``goldband.monitors.fdr``): a
test drifts when its adjusted p-value is <= ``alpha`` **and** its effect is
at least its floor (``min_effect`` for D and V, ``embedding_min_effect`` for
MMD^2); the golden set has drifted when any test has. With every test
unchanged the chance of a false alarm is at most about ``alpha`` (the KS tests
on discrete features are conservative, so less; tests/watch/test_staleness.py
measures it).

Power, honestly: a golden set has 10-200 cases. With fewer than ``MIN_TEXTS``
texts on either side no test is run (the summary says so): a KS test of 12
texts only sees differences so large that anyone would see them reading the
cases. Above it, ``InputDistance.detectable`` is the smallest KS distance that
one feature alone could be flagged at (Benjamini-Hochberg's strictest level,
``alpha`` / number of tests), and the summary says it. In a simulation of
support questions against 300 production inputs (tests/watch/test_staleness.py),
production questions 1.5 times as long were flagged in 95 % of trials with 20
golden cases, but a new topic taking 15 % of production only in 5 % (20
cases), 9 % (40) and 97 % (100): a small golden set sees big shifts only.

``case_ages`` reads the cases' ages and sources from their provenance.

Pure: texts, tags and vectors in, results out; the caller reads the store, git
and the lock.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from statistics import median
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from goldband.errors import ConfigError, MonitorError
from goldband.monitors import fdr
from goldband.monitors import multivariate as mv
from goldband.monitors.categorical import chi2
from goldband.monitors.kolmogorov import ks
from goldband.watch.rows import TestRow
from goldband.watch.textstats import FEATURES, UNITS, text_features

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["MIN_TEXTS", "SOURCES", "Ages", "CaseLike", "InputDistance", "case_ages", "compare_inputs"]

MIN_TEXTS = 20
SOURCES = ("hand-written", "production", "failure", "synthetic")
_MIN_EXPECTED = 5.0  # Cochran: every cell of the tag table expects at least this many counts, or is pooled
_OTHER = "(other)"
_MEDIAN_FEATURES = ("characters", "tokens", "mean_token_length")  # shown by their median; shares by their mean


@dataclass(frozen=True)
class InputDistance:
    """The golden set's inputs against recent production inputs: every test, and the verdict."""

    n_golden: int
    n_production: int
    tests: tuple[TestRow, ...]
    drifted: bool
    summary: str
    alpha: float
    detectable: float = math.nan  # smallest KS distance one feature alone can be flagged at; NaN: no test run

    @property
    def drifted_tests(self) -> list[str]:
        return [t.name for t in self.tests if t.drifted]

    def to_json(self) -> dict[str, Any]:
        return {"n_golden": self.n_golden, "n_production": self.n_production, "drifted": self.drifted,
                "summary": self.summary, "alpha": self.alpha,
                "detectable": self.detectable if math.isfinite(self.detectable) else None,
                "tests": [t.to_json() for t in self.tests]}


def compare_inputs(
    golden: Sequence[str],
    production: Sequence[str],
    *,
    golden_tags: Sequence[Sequence[str]] = (),
    production_tags: Sequence[Sequence[str]] = (),
    alpha: float = 0.05,
    min_effect: float = 0.1,
    golden_embeddings: Any = None,
    production_embeddings: Any = None,
    embedding_min_effect: float = mv.DEFAULT_MIN_EFFECT["mmd"],
    permutations: int = 999,
    seed: int = 0,
) -> InputDistance:
    """Test whether ``golden`` inputs look like ``production`` inputs (see the module docstring).

    ``*_tags``: one sequence of tags per text, or empty for none. ``*_embeddings``:
    one row per text (2-D, the same width on both sides), or None. ``permutations``
    of the MMD test: 999 lets its p-value reach 0.001, small enough to survive
    the correction among a dozen tests; ``seed`` makes it deterministic.

    >>> short = [f"Where is order {i}?" for i in range(40)]
    >>> long = [f"My order {i} arrived broken, the box was wet and the shoes are scuffed. What now?"
    ...         for i in range(60)]
    >>> compare_inputs(short, long).drifted, compare_inputs(short[::2], short[1::2]).drifted
    (True, False)
    >>> compare_inputs(short[:5], long).summary
    'too few texts to compare: 5 golden and 60 production; at least 20 of each are needed ...'
    """
    _check_knobs(alpha, min_effect, embedding_min_effect)
    _check_texts(golden, "golden")
    _check_texts(production, "production")
    g_tags, p_tags = _tags(golden_tags, len(golden), "golden"), _tags(production_tags, len(production), "production")
    g_emb, p_emb = _embeddings(golden_embeddings, production_embeddings, len(golden), len(production))
    n_g, n_p = len(golden), len(production)
    if min(n_g, n_p) < MIN_TEXTS:
        return InputDistance(n_g, n_p, (), False, _too_few(n_g, n_p), alpha)
    tests = _text_tests(golden, production, alpha, min_effect)
    if any(g_tags) and any(p_tags):
        tests.append(_tag_test(g_tags, p_tags, alpha, min_effect))
    if g_emb is not None and p_emb is not None:
        tests.append(_embedding_test(g_emb, p_emb, alpha, embedding_min_effect, permutations, seed))
    rows = _adjust(tests, alpha)
    detectable = _detectable(n_g, n_p, alpha, sum(t.p_value is not None for t in rows), min_effect)
    drifted = any(t.drifted for t in rows)
    return InputDistance(n_g, n_p, tuple(rows), drifted, _summary(rows, n_g, n_p, alpha, detectable), alpha,
                         detectable)


# -- checking the input ----------------------------------------------------------------------


def _check_knobs(alpha: float, min_effect: float, embedding_min_effect: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise MonitorError(f"alpha={alpha!r}", where="compare_inputs()", expected="a number in (0, 1)")
    for name, value in (("min_effect", min_effect), ("embedding_min_effect", embedding_min_effect)):
        if not value >= 0.0:
            raise MonitorError(f"{name}={value!r}", where="compare_inputs()", expected="a number >= 0")


def _check_texts(texts: Sequence[str], side: str) -> None:
    if isinstance(texts, str):
        raise MonitorError(f"the {side} inputs are one string", where="compare_inputs()",
                           expected="a sequence of texts, one per input", fix="wrap it in a list")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise MonitorError(f"{side} input {bad} is {type(texts[bad]).__name__} {texts[bad]!r:.60}",
                           where="compare_inputs()", expected="text (goldband.watch.tracerecords.record_text "
                           "turns a record's input into one)")


def _tags(tags: Sequence[Sequence[str]], n: int, side: str) -> list[tuple[str, ...]]:
    if not tags:
        return []
    if len(tags) != n:
        raise MonitorError(f"{len(tags)} {side} tag lists for {n} {side} inputs", where="compare_inputs()",
                           expected="one sequence of tags per input (empty for none), or no tags at all")
    out = []
    for i, row in enumerate(tags):
        if isinstance(row, str) or not all(isinstance(t, str) for t in row):
            raise MonitorError(f"{side} tags of input {i} are {row!r:.60}", where="compare_inputs()",
                               expected="a sequence of strings, such as ['billing', 'refund']")
        out.append(tuple(row))
    return out


def _embeddings(golden: Any, production: Any, n_g: int, n_p: int
                ) -> tuple[npt.NDArray[np.float64] | None, npt.NDArray[np.float64] | None]:
    if (golden is None) != (production is None):
        raise MonitorError("embeddings for one side only", where="compare_inputs()",
                           expected="golden_embeddings and production_embeddings together, or neither")
    if golden is None:
        return None, None
    g, p = _matrix(golden, n_g, "golden"), _matrix(production, n_p, "production")
    if g.shape[1] != p.shape[1]:
        raise MonitorError(f"golden embeddings have {g.shape[1]} dimensions, production ones {p.shape[1]}",
                           where="compare_inputs()", expected="one embedding model for both sides")
    return g, p


def _matrix(values: Any, n: int, side: str) -> npt.NDArray[np.float64]:
    m = np.asarray(values, dtype=np.float64)
    if m.ndim != 2 or len(m) != n or not np.isfinite(m).all():
        raise MonitorError(f"the {side} embeddings have shape {m.shape}"
                           + ("" if np.isfinite(m).all() else " and non-finite values"), where="compare_inputs()",
                           expected=f"{n} rows (one per {side} input) of finite numbers")
    return m


# -- the tests --------------------------------------------------------------------------------


def _text_tests(golden: Sequence[str], production: Sequence[str], alpha: float, min_effect: float) -> list[TestRow]:
    g, p = text_features(golden), text_features(production)
    rows = []
    for name in FEATURES:
        result = ks(p[name], g[name], alpha=alpha, min_effect=min_effect, nan_policy="omit")
        gv, pv = g[name][~np.isnan(g[name])], p[name][~np.isnan(p[name])]
        rows.append(TestRow(name, "text", "ks", result.statistic, result.p_value, result.effect_size, min_effect,
                            value=_describe(name, gv), reference=_describe(name, pv), n=len(gv)))
    return rows


def _describe(name: str, values: npt.NDArray[np.float64]) -> str:
    """``"median 14 tokens"``, ``"mean 3.1% digits"``, ``"62% questions"``, for people."""
    if not len(values):
        return "-"
    unit = UNITS[name]
    if name in _MEDIAN_FEATURES:
        return f"median {float(np.median(values)):.3g} {unit}"
    if name == "question":
        return f"{float(values.mean()):.0%} {unit}"
    if name == "lines":
        return f"mean {float(values.mean()):.3g} {unit}"
    return f"mean {float(values.mean()):.1%} {unit}"


def _tag_test(golden: list[tuple[str, ...]], production: list[tuple[str, ...]], alpha: float,
              min_effect: float) -> TestRow:
    g, p = Counter(t for row in golden for t in row), Counter(t for row in production for t in row)
    pooled_g, pooled_p = _pool(g, p)
    result = chi2(pooled_p, pooled_g, alpha=alpha, min_effect=min_effect)
    lacking = sum(c for t, c in p.items() if t not in g) / p.total()
    reference = _top(p) + (f"; {lacking:.0%} in tags the golden set lacks" if lacking else "")
    return TestRow("tags", "tags", "chi2", result.statistic, result.p_value, result.effect_size, min_effect,
                   value=_top(g), reference=reference, n=sum(1 for row in golden if row),
                   unseen_share=result.unseen_share)


def _pool(g: Counter[str], p: Counter[str]) -> tuple[Counter[str], Counter[str]]:
    """Tags whose expected count on the smaller side is below 5, pooled into ``(other)``."""
    smaller, total = min(g.total(), p.total()), g.total() + p.total()
    rare = {t for t in g.keys() | p.keys() if smaller * (g[t] + p[t]) / total < _MIN_EXPECTED}
    out = []
    for counts in (g, p):
        kept = Counter({t: c for t, c in counts.items() if t not in rare})
        if other := sum(c for t, c in counts.items() if t in rare):
            kept[_OTHER] = other
        out.append(kept)
    return out[0], out[1]


def _top(counts: Counter[str]) -> str:
    total = counts.total()
    return ", ".join(f"{t!r} {c / total:.0%}" for t, c in counts.most_common(3)) if total else "-"


def _embedding_test(golden: npt.NDArray[np.float64], production: npt.NDArray[np.float64], alpha: float,
                    floor: float, permutations: int, seed: int) -> TestRow:
    columns = {f"e{i}": production[:, i] for i in range(production.shape[1])}
    if why := mv.unfit_reason(columns):
        return _skipped(floor, why.replace("reference", "production sample").replace("rows", "inputs"),
                        len(golden))
    fitted = mv.MMDDrift.fit(columns, seed=seed)
    result = fitted.test({f"e{i}": golden[:, i] for i in range(golden.shape[1])}, alpha=alpha, min_effect=floor,
                         permutations=permutations, seed=seed)
    if not result.defined:
        return _skipped(floor, result.detail.removeprefix("undefined: "), result.n)
    return TestRow("embedding", "embedding", "mmd", result.statistic, result.p_value, result.effect_size, floor,
                   value=f"MMD^2 {result.statistic:.3g}", reference=f"0 +- {result.spread:.2g} (no drift)",
                   n=len(golden))


def _skipped(floor: float, why: str, n: int) -> TestRow:
    return TestRow("embedding", "embedding", "mmd", math.nan, None, math.nan, floor, value=f"skipped: {why}", n=n)


def _adjust(tests: list[TestRow], alpha: float) -> list[TestRow]:
    """Benjamini-Hochberg across the tests with a p-value; drifted needs adjusted p <= alpha and the effect floor.

    An undefined test (NaN p-value, or none: skipped) is left out of the family and never drifts.
    """
    with_p = {i: t.p_value for i, t in enumerate(tests) if t.p_value is not None and math.isfinite(t.p_value)}
    adjusted = dict(zip(with_p, (float(v) for v in fdr.adjust(list(with_p.values()), alpha=alpha)[0]), strict=True))
    out = []
    for i, t in enumerate(tests):
        p_adj = adjusted.get(i)
        drifted = p_adj is not None and p_adj <= alpha and math.isfinite(t.effect) and t.effect >= t.threshold
        out.append(replace(t, p_adjusted=p_adj, drifted=bool(drifted)))
    return out


# -- saying it --------------------------------------------------------------------------------


def _detectable(n_g: int, n_p: int, alpha: float, tests: int, min_effect: float) -> float:
    """The KS distance one feature alone must reach to be flagged: significant at BH's strictest level
    ``alpha / tests`` (the asymptotic critical value ``sqrt(-ln(level / 2) / 2) sqrt((n + m) / (n m))``,
    a close upper bound of the exact one at these sizes) and at least ``min_effect``."""
    level = alpha / max(tests, 1)
    critical = math.sqrt(-math.log(level / 2) / 2) * math.sqrt((n_g + n_p) / (n_g * n_p))
    return min(1.0, max(critical, min_effect))


def _too_few(n_g: int, n_p: int) -> str:
    return (f"too few texts to compare: {n_g} golden and {n_p} production; at least {MIN_TEXTS} of each are "
            f"needed (fewer give a test with almost no power)")


def _summary(rows: list[TestRow], n_g: int, n_p: int, alpha: float, detectable: float) -> str:
    drifted = sorted((t for t in rows if t.drifted), key=lambda t: -t.effect)  # the largest first
    if drifted:
        shown = "; ".join(f"{t.name}: {t.value} (production: {t.reference})" for t in drifted[:3])
        more = f" (and {len(drifted) - 3} more)" if len(drifted) > 3 else ""
        return (f"the golden set's {n_g} inputs differ from {n_p} recent production inputs in "
                f"{len(drifted)} of {len(rows)} tests: {shown}{more}")
    return (f"the golden set's {n_g} inputs look like the {n_p} recent production inputs: none of {len(rows)} "
            f"tests flagged at FDR {alpha:g}; with these sizes a feature alone is seen from a KS distance "
            f"of {detectable:.2f}")


# -- ages and sources ---------------------------------------------------------------------------


class CaseLike(Protocol):
    """What ``case_ages`` reads of a case (``goldband.golden.goldenset.Case`` has it)."""

    @property
    def id(self) -> str: ...

    @property
    def provenance(self) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class Ages:
    """How old a golden set's cases are, where they came from, and when the set last changed.

    Ages in days on ``today``; None when no case has a known date. ``sources``
    counts cases per provenance source (no provenance: hand-written), every
    source of ``SOURCES`` present, in that order.
    """

    n: int
    dated: int  # cases whose date is known
    oldest_days: int | None
    median_days: float | None
    newest_days: int | None
    sources: dict[str, int] = field(default_factory=dict)
    last_changed: date | None = None

    @property
    def shares(self) -> dict[str, float]:
        return {s: (c / self.n if self.n else math.nan) for s, c in self.sources.items()}

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "dated": self.dated, "oldest_days": self.oldest_days, "median_days": self.median_days,
                "newest_days": self.newest_days, "sources": self.sources,
                "last_changed": None if self.last_changed is None else self.last_changed.isoformat()}


def case_ages(cases: Sequence[CaseLike], *, today: date, first_seen: Mapping[str, date],
              changed: date | None = None) -> Ages:
    """Ages (from ``provenance.added``, else ``first_seen[case id]``, else unknown) and sources of ``cases``.

    ``changed``: when the set's file last changed (git), if the caller knows;
    ``last_changed`` is the later of it and the newest case's date. A date after
    ``today`` (clock skew) counts as age 0. ``added`` may be a date, a datetime
    or ISO text; anything else is a ``ConfigError`` naming the case.

    >>> class C:
    ...     def __init__(self, id, provenance=None): self.id, self.provenance = id, provenance
    >>> a = case_ages([C("a"), C("b", {"source": "production", "added": "2026-11-01"})],
    ...               today=date(2026, 12, 1), first_seen={"a": date(2026, 1, 1)})
    >>> a.oldest_days, a.median_days, a.newest_days, a.sources["production"], a.last_changed
    (334, 182.0, 30, 1, datetime.date(2026, 11, 1))
    """
    sources = Counter({s: 0 for s in SOURCES})
    days: list[int] = []
    newest: date | None = None
    for case in cases:
        provenance = case.provenance or {}
        sources[str(provenance.get("source") or "hand-written")] += 1
        when = _added(case, provenance.get("added")) or first_seen.get(case.id)
        if when is not None:
            days.append(max(0, (today - when).days))
            newest = when if newest is None else max(newest, when)
    last = max((d for d in (changed, newest) if d is not None), default=None)
    return Ages(len(cases), len(days), max(days, default=None), float(median(days)) if days else None,
                min(days, default=None), dict(sources), last)


def _added(case: CaseLike, value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        for parse in (date.fromisoformat, lambda s: datetime.fromisoformat(s).date()):
            try:
                return parse(value.strip())
            except ValueError:
                continue
    where = getattr(case, "where", None)
    raise ConfigError(f"provenance.added is {value!r:.60}", where=f"{where + ': ' if where else ''}case '{case.id}'",
                      expected="a date such as 2026-11-30 (or an ISO date-time)",
                      fix="write the day the case was added, or leave 'added' out")
