"""Seeded simulations: the error rates the band statistics promise, and the trap they avoid.

Every simulation is vectorised with numpy and seeded, so each test is
deterministic. Verdict functions are evaluated once per possible (passes, n)
to build a lookup table -- the verdict depends on nothing else -- and the
table is then applied to many simulated runs at once.

Monte-Carlo tolerance: a rate "stays at or below nominal" when it is at most
nominal + 3 standard errors of the simulation.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from goldband.bands.sprt import sequential_decision, sprt_plan
from goldband.compare.stats import benjamini_hochberg, classify_change, compare_pass_counts, paired_comparison

ALPHA = 0.05
REPEATS = 10
CASES = 200


def _at_most_nominal(hits: int, trials: int, nominal: float) -> bool:
    return hits / trials <= nominal + 3 * np.sqrt(nominal * (1 - nominal) / trials)


@pytest.fixture(scope="module")
def barnard_table() -> NDArray[np.float64]:
    """p-value of compare_pass_counts for every (head_passes, base_passes) at 10 repeats."""
    k = range(REPEATS + 1)
    return np.array([[compare_pass_counts(b, REPEATS, h, REPEATS).p_value for b in k] for h in k])


def _true_rates(rng: np.random.Generator) -> NDArray[np.float64]:
    """Varied per-case pass rates: a third always pass, the rest spread over (0.3, 1)."""
    rates = rng.uniform(0.3, 1.0, CASES)
    rates[: CASES // 3] = 1.0
    return rates


# --------------------------------------------------------------------------- (a) false alarms


def test_per_case_comparison_false_alarm_rate_at_or_below_nominal(barnard_table):
    """Identical base and head: how often does *any* of 200 cases get flagged?

    Barnard per case + Benjamini-Hochberg across cases: under the global null BH
    bounds the chance of any discovery by alpha, and the discrete exact test is
    conservative on top, so the family-wise false alarm rate stays below 5 %.
    """
    rng, sims = np.random.default_rng(20240501), 1000
    rates = _true_rates(rng)
    base = rng.binomial(REPEATS, rates, size=(sims, CASES))
    head = rng.binomial(REPEATS, rates, size=(sims, CASES))
    p_values, deltas = barnard_table[head, base], (head - base) / REPEATS
    alarms = 0
    for p_row, d_row in zip(p_values, deltas, strict=True):
        adjusted, _ = benjamini_hochberg(p_row, alpha=ALPHA)
        changes = {
            classify_change(d, p, alpha=ALPHA, min_effect=0.1)
            for d, p in zip(d_row, adjusted, strict=True)
        }
        alarms += changes != {"not significant"}
    assert _at_most_nominal(alarms, sims, ALPHA)
    assert alarms / sims < ALPHA  # in fact well below: discrete tests are conservative


def test_paired_comparison_false_alarm_rate_at_or_below_nominal():
    rng, sims = np.random.default_rng(7), 1000
    rates = _true_rates(rng)
    base = rng.binomial(REPEATS, rates, size=(sims, CASES)) / REPEATS
    head = rng.binomial(REPEATS, rates, size=(sims, CASES)) / REPEATS
    alarms = sum(
        paired_comparison(b, h, n_resamples=200).p_value <= ALPHA
        for b, h in zip(base, head, strict=True)
    )
    assert _at_most_nominal(alarms, sims, ALPHA)


# --------------------------------------------------------------------------- (b) the pooling trap


def _clustered_runs(
    rng: np.random.Generator, sims: int, run_effect: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Base and head pass counts per case, from the *same* process (no true change).

    Each case has its own rate; in each run it is shifted on the logit scale by
    a random effect shared by that run's repeats of the case (a provider
    fingerprint, a cache, a day) -- so repeats within a case-run are correlated,
    as they are in practice, while base and head stay identically distributed.
    """
    logits = rng.normal(1.5, 1.0, CASES)

    def one_run() -> NDArray[np.int64]:
        shifted = logits + run_effect * rng.standard_normal((sims, CASES))
        return rng.binomial(REPEATS, 1.0 / (1.0 + np.exp(-shifted)))

    return one_run(), one_run()


def _pooled_z_p(base: NDArray[np.int64], head: NDArray[np.int64]) -> NDArray[np.float64]:
    """Two-proportion z-test over all trials pooled, per simulated run (the trap)."""
    n = CASES * REPEATS
    pb, ph = base.sum(axis=1) / n, head.sum(axis=1) / n
    pooled = (pb + ph) / 2
    z = (ph - pb) / np.sqrt(pooled * (1 - pooled) * 2 / n)
    return 2 * stats.norm.sf(np.abs(z))


def test_pooled_z_is_the_textbook_two_proportion_test():
    """The trap is a fair one: the pooled test is chi-square on the 2x2 table of all trials."""
    expected = stats.chi2_contingency([[1440, 1500], [560, 500]], correction=False).pvalue
    assert _pooled_z_p(np.array([[1500]]), np.array([[1440]]))[0] == pytest.approx(expected)


def test_pooling_repeats_inflates_false_alarms_but_the_case_as_unit_does_not():
    """The trap this design avoids, constructed honestly.

    Per-case rates that merely vary do *not* inflate a pooled test (binomial
    variance over-states a mixture's), so that alone proves nothing -- checked
    first. What breaks pooling is correlation within a case's run: 10 repeats
    sharing a run-level shift carry far less than 10 trials' information, the
    pooled z-test counts them as 2000 independent trials, and raises alarms on
    identical base and head. The paired Wilcoxon over per-case deltas, one pair
    per case, stays at nominal.
    """
    rng, sims = np.random.default_rng(11), 800
    base, head = _clustered_runs(rng, sims, run_effect=0.0)
    assert _at_most_nominal(int((_pooled_z_p(base, head) <= ALPHA).sum()), sims, ALPHA)

    base, head = _clustered_runs(rng, sims, run_effect=1.0)
    pooled_rate = float((_pooled_z_p(base, head) <= ALPHA).mean())
    paired = [
        paired_comparison(b / REPEATS, h / REPEATS, n_resamples=200).p_value
        for b, h in zip(base, head, strict=True)
    ]
    paired_alarms = int((np.asarray(paired) <= ALPHA).sum())
    assert pooled_rate > 3 * ALPHA, pooled_rate
    assert _at_most_nominal(paired_alarms, sims, ALPHA), paired_alarms / sims


def test_per_case_tests_assume_base_and_head_repeats_share_conditions(barnard_table):
    """A limit worth knowing, pinned so it stays visible.

    A per-case exact test sees a run-level shift of that case as a real change:
    with the same shift as above, most runs flag some case after BH even though
    nothing changed. Per-case flags are trustworthy when base and head trials
    run under the same conditions (interleaved, same window); the paired
    comparison is the gate that holds either way.
    """
    rng, sims = np.random.default_rng(11), 300
    base, head = _clustered_runs(rng, sims, run_effect=1.0)
    flagged = [
        benjamini_hochberg(barnard_table[h, b], alpha=ALPHA)[1].any()
        for b, h in zip(base, head, strict=True)
    ]
    assert np.mean(flagged) > 0.5


# --------------------------------------------------------------------------- (c) sequential rule


def _step_table(bar: float, confidence: float, min_runs: int, max_runs: int) -> NDArray[np.str_]:
    table = np.full((max_runs + 1, max_runs + 1), "", dtype="<U12")
    for n in range(1, max_runs + 1):
        for k in range(n + 1):
            table[n, k] = sequential_decision(
                k, n, min_pass_rate=bar, confidence=confidence, min_runs=min_runs, max_runs=max_runs
            )
    return table


def _simulate_sequential(
    rng: np.random.Generator, table: NDArray[np.str_], p: float, sims: int
) -> tuple[dict[str, float], float]:
    """Verdict shares and mean runs used, for ``sims`` cases with true pass rate p."""
    max_runs = table.shape[0] - 1
    passes = np.cumsum(rng.random((sims, max_runs)) < p, axis=1)
    steps = table[np.arange(1, max_runs + 1), passes]  # (sims, max_runs)
    stop = np.argmax(steps != "CONTINUE", axis=1)
    final = steps[np.arange(sims), stop]
    shares = {v: float(np.mean(final == v)) for v in ("PASS", "FAIL", "INCONCLUSIVE")}
    return shares, float(np.mean(stop + 1))


@pytest.mark.parametrize(
    ("bar", "confidence", "min_runs", "max_runs"),
    [(0.8, 0.9, 3, 20), (0.8, 0.9, 1, 40), (0.5, 0.8, 3, 30), (0.9, 0.95, 5, 40)],
)
def test_sequential_error_rates_within_nominal_outside_the_zone(
    bar, confidence, min_runs, max_runs
):
    plan = sprt_plan(min_pass_rate=bar, confidence=confidence)
    table = _step_table(bar, confidence, min_runs, max_runs)
    assert (table[1:, :][table[1:, :] != ""] != "CONTINUE").any()
    rng, sims = np.random.default_rng(int(bar * 100) + max_runs), 20_000
    for p in (plan.p0, plan.p0 - 0.05, plan.p0 - 0.2):
        shares, _ = _simulate_sequential(rng, table, max(p, 0.0), sims)
        assert _at_most_nominal(round(shares["PASS"] * sims), sims, plan.alpha), (p, shares)
    for p in (plan.p1, min(plan.p1 + 0.05, 1.0), 1.0):
        shares, _ = _simulate_sequential(rng, table, p, sims)
        assert _at_most_nominal(round(shares["FAIL"] * sims), sims, plan.beta), (p, shares)


def test_sequential_rule_stops_early_on_clear_cases():
    table = _step_table(0.8, 0.9, 3, 20)
    rng = np.random.default_rng(3)
    shares, runs = _simulate_sequential(rng, table, 0.3, 5000)
    assert shares["FAIL"] > 0.99 and runs < 6
    shares, runs = _simulate_sequential(rng, table, 1.0, 5000)
    assert shares["PASS"] == 1.0 and runs == 12  # (0.9 / 0.7) ** 12 >= 1 / 0.05
