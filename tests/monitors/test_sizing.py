"""The minimum reference size: checked against simulation, not only against its own formula."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from goldband.monitors import psi
from goldband.monitors.sizing import minimum_reference

WINDOW, ALPHA = 500, 0.05


def ks_power(n: int, shift: float, runs: int = 300) -> float:
    rng = np.random.default_rng(5)
    hits = sum(stats.ks_2samp(rng.normal(size=n), rng.normal(shift, size=WINDOW)).pvalue <= ALPHA
               for _ in range(runs))
    return hits / runs


def test_ks_at_the_minimum_has_the_stated_power_and_a_quarter_of_it_does_not() -> None:
    sizing = minimum_reference("ks", window=WINDOW, alpha=ALPHA, min_effect=0.1)
    assert sizing.minimum is not None and 250 < sizing.minimum < 350
    shift = 2 * stats.norm.ppf(0.55)  # two normals this far apart differ by D = 0.1 at most
    assert ks_power(sizing.minimum, shift) >= 0.75
    assert ks_power(sizing.minimum // 3, shift) < 0.6


def test_psi_at_the_minimum_keeps_unchanged_windows_below_the_effect_and_a_fifth_of_it_does_not() -> None:
    sizing = minimum_reference("psi", window=WINDOW, alpha=ALPHA, min_effect=0.2)
    assert sizing.minimum is not None
    rng = np.random.default_rng(8)

    def false_alarms(n: int) -> float:
        return float(np.mean([psi(rng.normal(size=n), rng.normal(size=WINDOW), min_effect=0.2).drifted
                              for _ in range(300)]))

    assert false_alarms(sizing.minimum) <= 0.08
    assert false_alarms(sizing.minimum // 5) > 0.2


def test_chi2_needs_more_rows_for_more_levels_and_a_tiny_window_is_refused() -> None:
    two, ten = (minimum_reference("chi2", window=WINDOW, alpha=ALPHA, min_effect=0.1, levels=k).minimum
                for k in (2, 10))
    assert two is not None and ten is not None and two < ten
    tiny = minimum_reference("ks", window=50, alpha=ALPHA, min_effect=0.1)
    assert tiny.minimum is None and "window of 50 is too small" in tiny.reason
    assert tiny.short(10**6)


@pytest.mark.parametrize("test", ["ks", "psi", "jensen_shannon", "wasserstein", "chi2"])
def test_a_larger_window_or_effect_never_needs_a_larger_reference(test: str) -> None:
    base = minimum_reference(test, window=WINDOW, alpha=ALPHA, min_effect=0.2).minimum
    assert base is not None
    for window, effect in ((2000, 0.2), (WINDOW, 0.3)):
        other = minimum_reference(test, window=window, alpha=ALPHA, min_effect=effect).minimum
        assert other is not None and other <= base


@pytest.mark.parametrize("levels", [2, 5, 20])
def test_chi2_sizing_has_the_stated_power_by_scipys_noncentral_chi2(levels: int) -> None:
    """The closed-form sizing agrees with scipy.stats.ncx2: at the minimum total, power >= 0.8 at min_effect."""
    window, alpha, v = 500, 0.05, 0.1
    n = minimum_reference("chi2", window=window, alpha=alpha, min_effect=v, levels=levels).minimum
    assert n is not None
    critical = stats.chi2.ppf(1 - alpha, levels - 1)
    assert stats.ncx2.sf(critical, levels - 1, (n + window) * v**2) >= 0.8
    assert stats.ncx2.sf(critical, levels - 1, (n + window - 2) * v**2) < 0.8
