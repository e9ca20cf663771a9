"""The gate's statistics: scikit-learn as the reference, published examples, and the error rates simulated.

Monte-Carlo assertions use a binomial bound: a rate "holds" when the count of
events stays within the 99.9 % quantile of Binomial(simulations, nominal rate),
so a correct implementation fails such a test about once in a thousand seeds,
and every seed here is fixed.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy import stats as sps
from sklearn import metrics as skm

from goldband.errors import ConfigError
from goldband.registry.stats import (
    METRICS,
    MetricRule,
    PairedResult,
    decide,
    mcnemar_exact,
    metric_spec,
    paired_bootstrap,
    paired_proportion_interval,
)

CONFIDENCE = 0.9
ALPHA = (1 - CONFIDENCE) / 2  # the stated false-promotion rate of policy "superior"


def _at_most(events: int, sims: int, rate: float) -> bool:
    return events <= sps.binom.ppf(0.999, sims, rate)


def _data(task: str, needs: str, n: int, rng: np.random.Generator, *, classes: int = 2):
    """(y_true, candidate, champion) of the kind a metric needs, the candidate a little better."""
    if task == "regression":
        y = rng.normal(50.0, 10.0, n)
        return y, y + rng.normal(0, 1.0, n), y + rng.normal(0, 1.2, n)
    y = rng.integers(0, classes, n)
    if needs == "labels":
        noisy = [np.where(rng.random(n) < keep, y, rng.integers(0, classes, n)) for keep in (0.8, 0.7)]
        return y, noisy[0], noisy[1]
    scores = [np.clip(0.5 + (y - 0.5) * s + rng.normal(0, 0.25, n), 0.0, 1.0) for s in (0.5, 0.4)]
    scores[1][:5] = np.round(scores[1][:5], 1)  # ties, and exact 0 / 1 probabilities for the clipping
    return y, scores[0], scores[1]


# --------------------------------------------------------------------------- metrics


SKLEARN_CALLS = {
    "accuracy": lambda y, p: skm.accuracy_score(y, p),
    "precision": lambda y, p: skm.precision_score(y, p, zero_division=0.0),
    "recall": lambda y, p: skm.recall_score(y, p, zero_division=0.0),
    "f1": lambda y, p: skm.f1_score(y, p, zero_division=0.0),
    "roc_auc": lambda y, p: skm.roc_auc_score(y, p),
    "log_loss": lambda y, p: skm.log_loss(y, p),
    "rmse": lambda y, p: skm.root_mean_squared_error(y, p),
    "mae": lambda y, p: skm.mean_absolute_error(y, p),
    "r2": lambda y, p: skm.r2_score(y, p),
}


@pytest.mark.parametrize("name", sorted(METRICS))
def test_each_metric_is_scikit_learns(name):
    spec = METRICS[name]
    y, cand, _ = _data(spec.task, spec.needs, 200, np.random.default_rng(1))
    assert spec(y, cand) == SKLEARN_CALLS[name](y, cand)
    assert spec.name == name and spec.sign == (1.0 if spec.better == "higher" else -1.0)


def test_losses_are_better_lower_and_the_rest_higher():
    assert {n for n, s in METRICS.items() if s.better == "lower"} == {"log_loss", "rmse", "mae"}
    assert {METRICS[n].needs for n in ("roc_auc", "log_loss", "f1", "mae")} == {
        "scores", "probabilities", "labels", "values"}


def test_multiclass_label_metrics_are_macro_averaged():
    y, cand, _ = _data("classification", "labels", 300, np.random.default_rng(2), classes=4)
    assert METRICS["f1"](y, cand) == skm.f1_score(y, cand, average="macro", labels=np.unique(y), zero_division=0.0)
    assert METRICS["recall"](y, cand) == skm.recall_score(y, cand, average="macro", zero_division=0.0)


def test_an_unknown_metric_lists_the_known_ones_and_suggests_the_closest():
    with pytest.raises(ConfigError, match="did you mean 'roc_auc'") as info:
        metric_spec("roc-auc")
    assert all(name in str(info.value) for name in METRICS)
    with pytest.raises(ConfigError, match="use one of the names above"):
        metric_spec("zzzzzz")


def test_without_scikit_learn_a_metric_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.metrics", None)
    with pytest.raises(ConfigError, match=r"pip install 'goldband\[registry\]'"):
        METRICS["accuracy"]([1, 0], [1, 1])


def test_importing_the_module_leaves_scikit_learn_out():
    code = "import sys, goldband.registry.stats as s; s.mcnemar_exact([1, 0], [0, 0]); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_roc_auc_needs_both_classes():
    with pytest.raises(ValueError, match="exactly two classes"):
        METRICS["roc_auc"]([1, 1, 1], [0.2, 0.4, 0.9])


# --------------------------------------------------------------------------- shortcuts vs scikit-learn


def _by_sklearn(name: str):
    """The same metric, unregistered: paired_bootstrap calls scikit-learn on every resample."""
    return dataclasses.replace(METRICS[name])


@pytest.mark.parametrize("name", ["roc_auc", "log_loss", "rmse", "mae", "r2"])
def test_index_shortcuts_equal_scikit_learn_on_every_resample(name):
    """Same seed, same resampled indices: the fast path and scikit-learn agree to 1e-12."""
    spec = METRICS[name]
    y, cand, champ = _data(spec.task, spec.needs, 150, np.random.default_rng(3))
    fast = paired_bootstrap(name, y, cand, champ, n_resamples=80, seed=4)
    slow = paired_bootstrap(_by_sklearn(name), y, cand, champ, n_resamples=80, seed=4)
    for field in ("candidate", "champion", "delta", "low", "high"):
        assert getattr(fast, field) == pytest.approx(getattr(slow, field), abs=1e-12)


def test_multiclass_log_loss_shortcut_equals_scikit_learn():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 120)
    cand, champ = (rng.dirichlet(np.ones(3) * a, 120) for a in (1.0, 2.0))
    fast = paired_bootstrap("log_loss", y, cand, champ, n_resamples=60, seed=1)
    slow = paired_bootstrap(_by_sklearn("log_loss"), y, cand, champ, n_resamples=60, seed=1)
    assert (fast.low, fast.high) == pytest.approx((slow.low, slow.high), abs=1e-12)


@pytest.mark.parametrize("name", ["accuracy", "precision", "recall", "f1"])
def test_confusion_table_shortcut_equals_scikit_learn_beyond_ten_labels(name):
    """With more than 10 labels the table metrics resample indices, so they can be compared draw by draw."""
    y, cand, champ = _data("classification", "labels", 200, np.random.default_rng(6), classes=12)
    fast = paired_bootstrap(name, y, cand, champ, n_resamples=50, seed=2)
    slow = paired_bootstrap(_by_sklearn(name), y, cand, champ, n_resamples=50, seed=2)
    assert (fast.delta, fast.low, fast.high) == pytest.approx((slow.delta, slow.low, slow.high), abs=1e-12)


@pytest.mark.parametrize(("name", "classes"), [("accuracy", 2), ("f1", 2), ("f1", 4)])
def test_multinomial_tables_give_the_index_bootstrap_distribution(name, classes):
    """Drawing the joint confusion table from its multinomial is the index bootstrap, in distribution."""
    y, cand, champ = _data("classification", "labels", 200, np.random.default_rng(7), classes=classes)
    fast = paired_bootstrap(name, y, cand, champ, n_resamples=4000, seed=3)
    slow = paired_bootstrap(_by_sklearn(name), y, cand, champ, n_resamples=300, seed=3)
    width = slow.high - slow.low
    assert fast.delta == slow.delta
    assert abs(fast.low - slow.low) < 0.15 * width and abs(fast.high - slow.high) < 0.15 * width


def test_the_bootstrap_is_scipys_percentile_bootstrap():
    """scipy.stats.bootstrap(paired=True, method="percentile") with scikit-learn inside: the same interval."""
    y, cand, champ = _data("regression", "values", 100, np.random.default_rng(8))

    def gain(y, cand, champ):
        return skm.mean_absolute_error(y, champ) - skm.mean_absolute_error(y, cand)

    reference = sps.bootstrap((y, cand, champ), gain, paired=True, vectorized=False, method="percentile",
                              confidence_level=0.9, n_resamples=300, batch=300, rng=np.random.default_rng(9))
    ours = paired_bootstrap("mae", y, cand, champ, confidence=0.9, n_resamples=300, seed=9)
    ci = reference.confidence_interval
    assert (ours.low, ours.high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    gains = reference.bootstrap_distribution
    assert ours.p_better == (1 + np.sum(gains <= 0)) / 301


# --------------------------------------------------------------------------- McNemar and Tango


def _pairs(wins: int, losses: int, both: int, neither: int) -> tuple[list[bool], list[bool]]:
    candidate = [True] * wins + [False] * losses + [True] * both + [False] * neither
    champion = [False] * wins + [True] * losses + [True] * both + [False] * neither
    return candidate, champion


def test_mcnemar_on_a_hand_computed_table():
    """1 loss, 7 wins: P(X >= 7 | 8, 1/2) = 9/256 one-sided, 18/256 two-sided."""
    result = mcnemar_exact(*_pairs(7, 1, 30, 12))
    assert (result.p_better, result.p_value) == (9 / 256, 18 / 256)
    assert result.delta == 6 / 50 and (result.candidate, result.champion) == (37 / 50, 31 / 50)
    assert (result.metric, result.test, result.n) == ("accuracy", "mcnemar-exact", 50)


def test_mcnemar_and_tango_match_the_published_example():
    """Fagerland et al., *Statistical Analysis of Contingency Tables* (Cavo et al. 2012: 59, 6, 16, 80):
    McNemar exact conditional P = 0.052479; Tango 95 % CI -0.1240 to -0.0054 (contingencytables' tests)."""
    result = mcnemar_exact(*_pairs(6, 16, 59, 80), confidence=0.95)
    assert result.p_value == pytest.approx(0.052479, abs=5e-7)
    assert (result.delta, result.low, result.high) == pytest.approx((-0.0621, -0.1240, -0.0054), abs=5e-5)


@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40))
@settings(max_examples=40, deadline=None)
def test_mcnemar_p_values_are_scipys_binomtest(wins, losses, concordant):
    result = mcnemar_exact(*_pairs(wins, losses, concordant, 1))
    if wins + losses:
        assert result.p_value == sps.binomtest(wins, wins + losses).pvalue
        assert result.p_better == sps.binomtest(wins, wins + losses, alternative="greater").pvalue
    else:
        assert (result.p_value, result.p_better) == (1.0, 1.0)


def _score_by_likelihood(wins: int, losses: int, n: int, d: float) -> float:
    """Tango's score statistic with the restricted MLE found numerically, not by his closed form."""
    def minus_loglik(q: float) -> float:
        return -(losses * np.log(q) + wins * np.log(q + d) + (n - wins - losses) * np.log(1 - 2 * q - d))

    lo, hi = max(0.0, -d) + 1e-12, (1 - d) / 2 - 1e-12
    q = optimize.minimize_scalar(minus_loglik, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}).x
    return (wins - losses - n * d) / math.sqrt(n * (2 * q + d * (1 - d)))


@pytest.mark.parametrize(("wins", "losses", "n"), [(6, 16, 161), (12, 3, 80), (30, 22, 400)])
def test_tango_bounds_are_where_the_score_statistic_crosses_z(wins, losses, n):
    low, high = paired_proportion_interval(wins, losses, n, confidence=0.95)
    z = sps.norm.ppf(0.975)
    assert _score_by_likelihood(wins, losses, n, low) == pytest.approx(z, abs=1e-4)
    assert _score_by_likelihood(wins, losses, n, high) == pytest.approx(-z, abs=1e-4)


def test_tango_edge_cases():
    z2 = sps.norm.ppf(0.95) ** 2
    assert paired_proportion_interval(0, 0, 50) == pytest.approx((-z2 / (50 + z2), z2 / (50 + z2)))
    assert paired_proportion_interval(10, 0, 10)[1] == 1.0
    assert paired_proportion_interval(0, 10, 10)[0] == -1.0
    with pytest.raises(ValueError, match="wins"):
        paired_proportion_interval(5, 6, 10)


def test_tango_interval_covers_at_its_nominal_level():
    """Seeded coverage simulation at 90 %: near nominal at every shape (measured 89.4-90.7 % at 20,000 runs)."""
    rng, sims = np.random.default_rng(12), 1500
    for p_win, p_loss, n in [(0.05, 0.05, 200), (0.08, 0.03, 300), (0.15, 0.05, 100), (0.3, 0.1, 40)]:
        tables = rng.multinomial(n, [p_win, p_loss, 1 - p_win - p_loss], size=sims)
        bounds = np.array([paired_proportion_interval(w, lo, n, confidence=0.9) for w, lo, _ in tables])
        misses = int(np.sum((bounds[:, 0] > p_win - p_loss) | (bounds[:, 1] < p_win - p_loss)))
        assert _at_most(misses, sims, 0.10), (p_win, p_loss, n, misses / sims)
        assert misses / sims > 0.05  # and not needlessly wide


@pytest.mark.parametrize(("a", "b", "match"), [([], [], "empty"), ([1, 0], [1], "differ"), ([2, 0], [1, 0], "0/1")])
def test_mcnemar_refuses_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        mcnemar_exact(a, b)


# --------------------------------------------------------------------------- properties


@st.composite
def correct_pairs(draw: st.DrawFn) -> tuple[list[bool], list[bool]]:
    n = draw(st.integers(1, 60))
    return draw(st.lists(st.booleans(), min_size=n, max_size=n)), draw(st.lists(st.booleans(), min_size=n, max_size=n))


@given(correct_pairs())
@settings(max_examples=60, deadline=None)
def test_mcnemar_properties(pair):
    cand, champ = pair
    result, swapped = mcnemar_exact(cand, champ), mcnemar_exact(champ, cand)
    wins = sum(c and not h for c, h in zip(cand, champ, strict=True))
    losses = sum(h and not c for c, h in zip(cand, champ, strict=True))
    assert np.sign(result.delta) == np.sign(wins - losses)
    assert -1.0 <= result.low <= result.delta <= result.high <= 1.0
    assert swapped.delta == -result.delta
    assert (swapped.low, swapped.high) == pytest.approx((-result.high, -result.low), abs=1e-9)
    same = mcnemar_exact(cand, cand)
    assert (same.delta, same.p_better, same.p_value) == (0.0, 1.0, 1.0)
    assert not decide([same], primary="accuracy").passed


@given(st.integers(2, 40), st.integers(0, 2**16), st.sampled_from(["mae", "roc_auc", "log_loss"]))
@settings(max_examples=30, deadline=None)
def test_bootstrap_properties(n, seed, name):
    rng = np.random.default_rng(seed)
    y = np.r_[0, 1, rng.integers(0, 2, n)] if name != "mae" else rng.normal(size=n)
    cand, champ = rng.random(y.size), rng.random(y.size)
    try:
        result = paired_bootstrap(name, y, cand, champ, n_resamples=40, seed=seed)
    except ValueError as exc:  # roc_auc on a resample with one class: refused, and said so
        assert "undefined on" in str(exc)
        return
    swapped = paired_bootstrap(name, y, champ, cand, n_resamples=40, seed=seed)
    assert result.low <= result.delta <= result.high
    assert swapped.delta == pytest.approx(-result.delta, abs=1e-12)
    assert (swapped.low, swapped.high) == pytest.approx((-result.high, -result.low), abs=1e-12)
    same = paired_bootstrap(name, y, cand, cand, n_resamples=40, seed=seed)
    assert (same.delta, same.low, same.high, same.p_better, same.p_value) == (0.0, 0.0, 0.0, 1.0, 1.0)
    assert not decide([same], primary=name).passed


def test_bootstrap_is_reproducible_and_its_gain_points_the_good_way():
    rng = np.random.default_rng(13)
    y = rng.integers(0, 2, 400)
    cand, champ = (1 / (1 + np.exp(-(2 * y - 1) * s - rng.normal(0, 1, 400))) for s in (2.0, 1.0))
    result = paired_bootstrap("log_loss", y, cand, champ, seed=5)
    assert result == paired_bootstrap("log_loss", y, cand, champ, seed=5)
    assert result != paired_bootstrap("log_loss", y, cand, champ, seed=6)
    assert result.candidate < result.champion and result.delta == result.champion - result.candidate > 0
    assert result.p_better <= ALPHA < result.low and result.better == "lower"


def test_bootstrap_refuses_an_undefined_resample_and_bad_input():
    y = np.array([1, 1, 0] + [0] * 37)  # two positives in 40: many resamples have none
    with pytest.raises(ValueError, match=r"roc_auc is undefined on \d+ of 200 resamples"):
        paired_bootstrap("roc_auc", y, np.linspace(0, 1, 40), np.linspace(1, 0, 40), n_resamples=200)
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap("mae", [1.0, 2.0], [1.0], [1.0])
    with pytest.raises(ValueError, match="non-empty"):
        paired_bootstrap("mae", [], [], [])
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap("mae", [1.0, 2.0], [1.0, 2.0], [1.0, 2.0], confidence=1.0)


# --------------------------------------------------------------------------- error rates of the gate


def _correct_answers(rng: np.random.Generator, n: int, accuracy: float, hard: np.ndarray) -> np.ndarray:
    """Right with ``accuracy`` on ordinary examples, a coin flip on the hard ones (shared by both models)."""
    return np.where(hard, rng.random(n) < 0.5, rng.random(n) < accuracy)


@pytest.mark.parametrize("share_hard", [0.0, 0.3])
def test_mcnemar_gate_promotes_an_equal_model_at_most_at_the_stated_rate(share_hard):
    """Two equally accurate models: policy "superior" promotes <= (1 - confidence) / 2 = 5 % (measured ~4 %)."""
    rng, sims, n = np.random.default_rng(20), 1500, 400
    promoted = 0
    for _ in range(sims):
        hard = rng.random(n) < share_hard
        results = [mcnemar_exact(_correct_answers(rng, n, 0.8, hard), _correct_answers(rng, n, 0.8, hard))]
        promoted += decide(results, primary="accuracy").passed
    assert _at_most(promoted, sims, ALPHA), promoted / sims


def test_bootstrap_gate_promotes_an_equal_model_at_most_at_the_stated_rate():
    """Two independent noisy draws of the same scorer: roc_auc and accuracy by paired bootstrap, <= 5 %
    (measured 3.9-4.6 % at 1,500-3,000 runs)."""
    rng, sims, n = np.random.default_rng(21), 250, 200
    promoted = {"roc_auc": 0, "accuracy": 0}
    for i in range(sims):
        y = rng.integers(0, 2, n)
        cand, champ = y + rng.normal(0, 1, n), y + rng.normal(0, 1, n)
        for name, args in (("roc_auc", (cand, champ)), ("accuracy", (cand > 0.5, champ > 0.5))):
            result = paired_bootstrap(name, y, *(a.astype(float) for a in args), n_resamples=500, seed=i)
            promoted[name] += decide([result], primary=name).passed
    assert all(_at_most(count, sims, ALPHA) for count in promoted.values()), promoted


def test_gate_promotes_a_clearly_better_model():
    """+5 points of accuracy (80 % -> 85 %) on 2,000 examples: promoted in >= 95 % of runs (measured 99.8 %)."""
    rng, sims, n = np.random.default_rng(22), 200, 2000
    promoted = {"mcnemar": 0, "bootstrap": 0}
    for i in range(sims):
        cand, champ = rng.random(n) < 0.85, rng.random(n) < 0.80
        promoted["mcnemar"] += decide([mcnemar_exact(cand, champ)], primary="accuracy").passed
        result = paired_bootstrap("accuracy", np.ones(n, int), cand.astype(int), champ.astype(int), seed=i)
        promoted["bootstrap"] += decide([result], primary="accuracy").passed
    assert min(promoted.values()) >= 0.95 * sims, promoted


# --------------------------------------------------------------------------- the decision


def _result(metric="roc_auc", candidate=0.861, champion=0.842, low=0.006, high=0.031, p_better=0.003,
            better="higher"):
    delta = candidate - champion if better == "higher" else champion - candidate
    return PairedResult(metric, better, candidate, champion, delta, low, high, CONFIDENCE, p_better,
                        min(1.0, 2 * p_better), "paired-bootstrap", 5000)


def test_reasons_are_plain_sentences_with_the_numbers():
    results = [_result(), _result("log_loss", 0.47, 0.48, -0.004, 0.024, 0.2, "lower")]
    rules = [MetricRule("roc_auc", min_improvement=0.005), MetricRule("log_loss", floor=0.45, margin=0.01)]
    gate = decide(results, rules, primary="roc_auc")
    assert gate.reasons == (
        "roc_auc: candidate 0.861 vs champion 0.842, +0.019 [+0.006, +0.031] at 90%: "
        "significantly better (one-sided p 0.003, min improvement 0.005)",
        "log_loss: candidate 0.47 is above the floor 0.45",
        "log_loss: candidate 0.47 vs champion 0.48 (lower is better), +0.01 [-0.004, +0.024] at 90%: "
        "non-inferior (margin 0.01)",
    )
    assert not gate.passed and gate.failures == (gate.reasons[1],)
    assert (gate.primary, gate.policy, gate.results) == ("roc_auc", "superior", tuple(results))


def test_superiority_needs_both_the_test_and_the_min_improvement():
    rule = [MetricRule("roc_auc", min_improvement=0.01)]
    assert not decide([_result()], rule, primary="roc_auc").passed  # lower bound 0.006 <= 0.01
    reason = decide([_result(p_better=0.2)], primary="roc_auc").failures[0]
    assert reason.endswith("not significantly better (p 0.2 > 0.05)")
    assert decide([_result(p_better=0.05)], primary="roc_auc").passed


def test_non_inferiority_margins_and_the_non_inferior_policy():
    worse = _result("f1", 0.70, 0.71, -0.03, 0.01, 0.8)
    assert "may be worse by more than the margin 0.02 (lower bound -0.03 < -0.02)" in decide(
        [_result(), worse], [MetricRule("f1", margin=0.02)], primary="roc_auc").failures[0]
    assert decide([_result(), worse], [MetricRule("f1", margin=0.05)], primary="roc_auc").passed
    flat = _result(candidate=0.842, low=-0.004, high=0.004, p_better=0.5)
    assert not decide([flat], primary="roc_auc").passed
    assert decide([flat], [MetricRule("roc_auc", margin=0.01)], primary="roc_auc", policy="non_inferior").passed


@pytest.mark.parametrize(("better", "candidate", "passes"), [("higher", 0.7, True), ("higher", 0.69, False),
                                                             ("lower", 0.7, True), ("lower", 0.71, False)])
def test_floors_follow_the_good_direction(better, candidate, passes):
    result = _result("m", candidate, candidate - 0.05 if better == "higher" else candidate + 0.05, better=better)
    gate = decide([result], [MetricRule("m", floor=0.7)], primary="m")
    assert gate.passed is passes
    assert gate.reasons[0].startswith(f"m: candidate {candidate:g} " + ("clears" if passes else "is"))


@given(st.floats(-0.1, 0.1), st.floats(0, 1), st.floats(-0.1, 0.1), st.floats(0, 0.05), st.floats(0, 0.05))
def test_the_gate_passes_exactly_when_every_check_holds(low, p_better, other_low, min_improvement, margin):
    results = [_result(low=low, high=low + 0.1, p_better=p_better), _result("f1", 0.7, 0.7, other_low, 0.1)]
    rules = [MetricRule("roc_auc", min_improvement=min_improvement, margin=margin), MetricRule("f1", margin=margin)]
    superior = decide(results, rules, primary="roc_auc")
    assert superior.passed is (p_better <= 0.05 and low > min_improvement and other_low >= -margin)
    non_inferior = decide(results, rules, primary="roc_auc", policy="non_inferior")
    assert non_inferior.passed is (low >= -margin and other_low >= -margin)
    for gate in (superior, non_inferior):
        assert len(gate.reasons) == 2 and set(gate.failures) <= set(gate.reasons)
        assert gate.passed is (not gate.failures)


def test_an_undefined_interval_never_passes():
    assert not decide([_result(low=math.nan, high=math.nan)], primary="roc_auc").passed


@pytest.mark.parametrize(("results", "rules", "match"), [
    ([_result()], [MetricRule("f1")], "no result for metric 'f1'"),
    ([_result(), _result()], [], "two results"),
    ([_result(), _result("f1")], [MetricRule("f1", min_improvement=0.01)], "not the primary"),
])
def test_decide_refuses_a_gate_it_cannot_judge(results, rules, match):
    with pytest.raises(ConfigError, match=match):
        decide(results, rules, primary="roc_auc")
    with pytest.raises(ConfigError, match="no result for metric 'accuracy'"):
        decide([_result()], primary="accuracy")


@pytest.mark.parametrize("knob", ["margin", "min_improvement"])
def test_rules_refuse_negative_knobs(knob):
    with pytest.raises(ConfigError, match=f"gate rule 'f1': {knob} is -0.1"):
        MetricRule("f1", **{knob: -0.1})
