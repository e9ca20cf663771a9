"""The KS tail without scipy.stats equals scipy.stats.kstwo.sf in every branch of Simard and L'Ecuyer's choice."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from goldband.monitors.kstwo import kstwo_sf

TOLERANCE = 1e-12


def same(d: float, n: int) -> None:
    ours, theirs = kstwo_sf(d, n), float(stats.kstwo.sf(d, n))
    assert math.isclose(ours, theirs, rel_tol=TOLERANCE, abs_tol=TOLERANCE), (d, n, ours, theirs)


@pytest.mark.parametrize(("d", "n", "branch"), [
    (0.004, 100, "below 1/2n: certain"),
    (0.008, 100, "Ruben-Gambino between 1/2n and 1/n, n <= 140"),
    (0.0008, 1000, "Ruben-Gambino between 1/2n and 1/n, n > 140"),
    (0.95, 20, "Ruben-Gambino near 1"),
    (0.6, 30, "d >= 0.5: twice the one-sided tail"),
    (0.1, 50, "n <= 140, small n d^2: Durbin"),
    (0.2, 60, "n <= 140, middle n d^2: Pomeranz"),
    (0.35, 100, "n <= 140, large n d^2: twice the one-sided tail"),
    (0.015, 488, "n > 140, small n d^1.5: Durbin (a window of 500 against 20,000)"),
    (0.03, 488, "n > 140, larger n d^1.5: Pelz-Good"),
    (0.1, 488, "n > 140, n d^2 >= 2.2: twice the one-sided tail"),
    (0.002, 200_000, "n > 100,000: Pelz-Good"),
    (0.001, 1_000_000, "a million: Pelz-Good"),
    (0.05, 1_000_000, "far tail: zero"),
    (1.0, 10, "d = 1"),
])
def test_every_branch_matches_scipy(d: float, n: int, branch: str) -> None:
    same(d, n)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 5000), d=st.floats(0.0, 1.0, allow_nan=False))
def test_matches_scipy_on_random_sizes_and_statistics(n: int, d: float) -> None:
    same(d, n)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(5000, 300_000), z=st.floats(0.05, 3.0))
def test_matches_scipy_for_large_samples_near_the_usual_statistics(n: int, z: float) -> None:
    same(z / math.sqrt(n), n)  # d around 1/sqrt(n), where the p-values a drift test sees live


def test_bad_size_is_refused() -> None:
    with pytest.raises(ValueError, match="positive integer"):
        kstwo_sf(0.1, 0)


def test_importing_and_using_it_leaves_scipy_stats_unimported() -> None:
    code = ("import sys; from goldband.monitors.kstwo import kstwo_sf; kstwo_sf(0.6, 30); kstwo_sf(0.03, 488); "
            "print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
