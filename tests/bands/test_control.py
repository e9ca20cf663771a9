"""Control limits over a case's past pass rates, and the flip rate."""

from __future__ import annotations

import math

import pytest

from goldband.bands.control import control_limits, flip_rate


def test_control_limits_p_chart():
    limits = control_limits([0.9] * 10 + [0.8] * 10, trials_per_run=20)
    sigma = math.sqrt(0.85 * 0.15 / 20)
    assert (limits.center, limits.lower, limits.upper) == pytest.approx(
        (0.85, 0.85 - 3 * sigma, 1.0)
    )
    assert not limits.provisional and limits.contains(0.7) and not limits.contains(0.55)


def test_control_limits_individuals_chart_uses_moving_ranges():
    history = [0.6, 0.7] * 6  # moving range 0.1 -> sigma 0.1 / 1.128
    limits = control_limits(history, sigmas=2.0)
    assert limits.center == pytest.approx(0.65)
    assert limits.lower == pytest.approx(0.65 - 2 * 0.1 / 1.128)
    assert limits.provisional and limits.n_history == 12


def test_control_limits_need_history():
    limits = control_limits([0.9] * 9)
    assert math.isnan(limits.lower) and math.isnan(limits.upper) and limits.n_history == 9
    assert math.isnan(control_limits([]).center)
    assert not control_limits([1.0] * 10).contains(0.9)  # no spread: any change is outside


def test_control_limits_reject_non_rates():
    with pytest.raises(ValueError, match="pass rates"):
        control_limits([0.5, 1.5] * 5)


@pytest.mark.parametrize(
    ("outcomes", "rate"),
    [
        ([True, True, True], 0.0),
        ([True, False, True, False], 1.0),
        ([True, True, False, False, True], 0.5),
    ],
)
def test_flip_rate(outcomes, rate):
    assert flip_rate(outcomes) == rate


def test_flip_rate_undefined_below_two_runs():
    assert math.isnan(flip_rate([])) and math.isnan(flip_rate([True]))
