"""History bands (a p-chart over a case's past runs) and flaky quarantine."""

from __future__ import annotations

import statistics
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldband.bands import control
from goldband.bands.history import MIN_HISTORY, learn
from goldband.bands.spec import BandSpec, HistorySpec, QuarantineSpec, merge_band


def point(status: str = "PASS", pass_rate: float | None = 1.0, n: int = 10,
          run_status: str = "complete") -> SimpleNamespace:
    return SimpleNamespace(status=status, n=n, pass_rate=pass_rate, run_status=run_status)


def history_band(**history: float):
    return merge_band(BandSpec(min_pass_rate=0.8, history=HistorySpec(**history) if history else True))


def quarantine_band(min_pass_rate: float = 0.8, **spec: float):
    return merge_band(BandSpec(min_pass_rate=min_pass_rate, quarantine=QuarantineSpec(**spec) if spec else True))


RATES = [0.9, 0.8, 1.0, 0.9, 0.9, 0.7, 1.0, 0.9, 0.8, 0.9, 1.0, 0.9]


# --------------------------------------------------------------------------- no settings


def test_no_history_settings_leave_the_band_alone():
    band = merge_band(BandSpec(min_pass_rate=0.8))
    learned = learn(band, [point(pass_rate=r) for r in RATES])
    assert learned.band is band and learned.notes == () and learned.quarantine is None
    assert learn(band, []).band is band


# --------------------------------------------------------------------------- history band


@pytest.mark.parametrize("past", [0, 1, MIN_HISTORY - 1])
def test_too_little_history_keeps_the_bar_with_a_note(past):
    band = history_band()
    learned = learn(band, [point(pass_rate=0.9) for _ in range(past)])
    assert learned.band == band
    assert learned.notes == (f"history band: {past} past runs (needs {MIN_HISTORY}); using min_pass_rate 0.8",)


def test_history_band_bar_is_the_lower_control_limit():
    band = history_band()
    learned = learn(band, [point(pass_rate=r, n=10) for r in RATES])
    limits = control.control_limits(RATES, sigmas=3.0, trials_per_run=10, min_history=MIN_HISTORY)
    assert learned.band.min_pass_rate == pytest.approx(limits.lower, abs=1e-4)
    assert 0.0 < learned.band.min_pass_rate < 0.8
    assert (learned.band.confidence, learned.band.history) == (band.confidence, band.history)
    (note,) = learned.notes
    assert note.startswith(f"band learned from {len(RATES)} past runs: mean pass rate {limits.center:.2f}")
    assert note.endswith("(3 sigma) replaces min_pass_rate 0.8")


def test_history_band_uses_the_window_and_sigmas_and_median_trials():
    rates = [0.95] * 10 + [0.1] * 10  # newest first: only the first 10 are in the window
    sizes = [10, 20, 20, 10, 20, 20, 20, 10, 20, 20] + [5] * 10
    points = [point(pass_rate=r, n=k) for r, k in zip(rates, sizes, strict=True)]
    learned = learn(history_band(window=10, sigmas=2.0), points)
    trials = int(statistics.median(sizes[:10]))
    limits = control.control_limits(rates[:10], sigmas=2.0, trials_per_run=trials)
    assert trials == 20
    assert learned.band.min_pass_rate == pytest.approx(round(limits.lower, 4))
    assert "from 10 past runs" in learned.notes[0] and "(2 sigma)" in learned.notes[0]


def test_a_history_that_always_passed_is_held_to_that():
    learned = learn(history_band(), [point(pass_rate=1.0) for _ in range(12)])
    assert learned.band.min_pass_rate == 1.0


def test_history_ignores_incomplete_runs_and_errors_and_missing_rates():
    good = [point(pass_rate=r) for r in RATES[:MIN_HISTORY - 1]]
    noise = [point(pass_rate=0.0, run_status="interrupted"), point(status="ERROR", pass_rate=0.0),
             point(status="INCONCLUSIVE", pass_rate=None)]
    learned = learn(history_band(), noise + good)
    assert learned.band.min_pass_rate == 0.8  # 9 usable rates: not enough
    assert learned.notes[0].startswith(f"history band: {MIN_HISTORY - 1} past runs")
    enough = learn(history_band(), noise + [point(pass_rate=r) for r in RATES])
    limits = control.control_limits(RATES, trials_per_run=10)
    assert enough.band.min_pass_rate == pytest.approx(round(limits.lower, 4))


@given(rates=st.lists(st.floats(0.0, 1.0), min_size=MIN_HISTORY, max_size=30), n=st.integers(1, 50))
@settings(max_examples=50, deadline=None)
def test_learned_bar_is_a_rate_at_or_below_the_mean(rates, n):
    learned = learn(history_band(window=30), [point(pass_rate=r, n=n) for r in rates])
    bar = learned.band.min_pass_rate
    assert 0.0 <= bar <= 1.0
    assert bar <= sum(rates) / len(rates) + 1e-4


# --------------------------------------------------------------------------- quarantine


def test_alternating_verdicts_are_quarantined():
    points = [point("PASS" if i % 2 else "FAIL", pass_rate=None) for i in range(10)]
    reason = learn(quarantine_band(), points).quarantine
    assert reason == ("quarantined: flipped between PASS and not-PASS 9 times in the last 10 runs "
                      "(flip rate 1.00 > max_flip_rate 0.3)")


def test_inconclusive_counts_as_not_pass():
    points = [point("PASS" if i % 2 else "INCONCLUSIVE") for i in range(6)]
    assert learn(quarantine_band(), points).quarantine is not None


@pytest.mark.parametrize(
    "statuses",
    [
        ["PASS"] * 10,
        ["FAIL"] * 10,
        ["FAIL"] * 3 + ["PASS"] * 7,  # one regression, then stable
        ["PASS", "FAIL"],  # too short to judge
        [],
    ],
)
def test_stable_or_short_histories_are_not_quarantined(statuses):
    assert learn(quarantine_band(), [point(s) for s in statuses]).quarantine is None


def test_quarantine_uses_its_window_and_limit():
    flaky_old = ["PASS"] * 5 + ["PASS", "FAIL"] * 5  # newest first: recent runs are stable
    assert learn(quarantine_band(window=5), [point(s) for s in flaky_old]).quarantine is None
    assert learn(quarantine_band(window=15), [point(s) for s in flaky_old]).quarantine is not None
    some = ["FAIL", "PASS", "FAIL", "PASS"] + ["PASS"] * 6  # 3 flips in 9 steps: rate 0.33
    assert learn(quarantine_band(max_flip_rate=0.3), [point(s) for s in some]).quarantine is not None
    assert learn(quarantine_band(max_flip_rate=0.4), [point(s) for s in some]).quarantine is None


def test_quarantine_skips_incomplete_runs_and_errors():
    points = [point("PASS"), point("FAIL", run_status="interrupted"), point("ERROR"), point("PASS"),
              point("PASS"), point("FAIL", run_status="running"), point("PASS")]
    assert learn(quarantine_band(), points).quarantine is None


def test_quarantined_points_are_read_through_their_pass_rate():
    # a case already quarantined: its underlying result flips between 1.0 and 0.5
    flipping = [point("QUARANTINED", pass_rate=1.0 if i % 2 else 0.5) for i in range(8)]
    assert learn(quarantine_band(min_pass_rate=0.8), flipping).quarantine is not None
    # ... and once it holds steady it is released
    steady = [point("QUARANTINED", pass_rate=0.9) for _ in range(8)]
    assert learn(quarantine_band(min_pass_rate=0.8), steady).quarantine is None
    unknown = [point("QUARANTINED", pass_rate=None) for _ in range(8)]
    assert learn(quarantine_band(), unknown).quarantine is None  # read as not-PASS, steadily


def test_history_and_quarantine_together():
    band = merge_band(BandSpec(min_pass_rate=0.8, history=True, quarantine=True))
    points = [point("PASS" if i % 2 else "FAIL", pass_rate=1.0 if i % 2 else 0.6) for i in range(12)]
    learned = learn(band, points)
    assert learned.quarantine is not None
    assert learned.band.min_pass_rate < 0.8 and learned.notes[0].startswith("band learned from 12 past runs")
