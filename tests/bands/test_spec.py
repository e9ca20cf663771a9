"""Band settings: merging defaults, set and case specs, option overrides, and resolving the runs."""

from __future__ import annotations

import pytest

from goldband.bands.spec import Band, BandSpec, HistorySpec, QuarantineSpec, Runs, merge_band, override, resolve_runs


def test_merge_band_defaults():
    assert merge_band() == Band() == merge_band(None, BandSpec())
    assert Band().min_pass_rate == 1.0 and Band().confidence == 0.9 and Band().inconclusive == "fail"


def test_merge_band_later_specs_override_field_by_field():
    band = merge_band(BandSpec(min_pass_rate=0.8, confidence=0.95), BandSpec(min_pass_rate=0.9),
                      BandSpec(max_error_rate=0.1))
    assert (band.min_pass_rate, band.confidence, band.max_error_rate) == (0.9, 0.95, 0.1)


def test_unset_or_none_fields_do_not_override():
    band = merge_band(BandSpec(min_pass_rate=0.7), BandSpec(min_pass_rate=None, inconclusive="warn"))
    assert band.min_pass_rate == 0.7 and band.inconclusive == "warn"


def test_history_and_quarantine_true_false_and_specs():
    on = merge_band(BandSpec(history=True, quarantine=True))
    assert on.history == HistorySpec() and on.quarantine == QuarantineSpec()
    off = merge_band(BandSpec(history=True, quarantine=True), BandSpec(history=False, quarantine=False))
    assert off.history is None and off.quarantine is None
    custom = merge_band(BandSpec(history=HistorySpec(window=30, sigmas=2.0)))
    assert custom.history == HistorySpec(window=30, sigmas=2.0)


def test_override_replaces_only_what_the_option_sets():
    base = Band(min_pass_rate=0.8, confidence=0.95)
    assert override(base, None) is base
    assert override(base, BandSpec(confidence=0.8)) == Band(min_pass_rate=0.8, confidence=0.8)


def test_band_spec_refuses_out_of_range_and_unknown_fields():
    with pytest.raises(ValueError, match="min_pass_rate"):
        BandSpec(min_pass_rate=1.5)
    with pytest.raises(ValueError, match="confidence"):
        BandSpec(confidence=1.0)
    with pytest.raises(ValueError, match="min_pas_rate"):
        BandSpec(min_pas_rate=0.8)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((None, None, None, "fail"), Runs(1, 1, adaptive=False)),
        ((5, None, None, "fail"), Runs(5, 5, adaptive=False)),
        ((5, None, None, "warn"), Runs(5, 5, adaptive=False)),
        ((5, None, None, "more"), Runs(5, 15, adaptive=True)),
        ((None, 4, None, "fail"), Runs(4, 20, adaptive=True)),
        ((None, None, 10, "fail"), Runs(3, 10, adaptive=True)),
        ((None, 30, None, "fail"), Runs(30, 30, adaptive=True)),
        ((None, 2, 8, "more"), Runs(2, 8, adaptive=True)),
        ((5, None, 12, "fail"), Runs(5, 12, adaptive=True)),  # runs + max_runs: runs is the minimum
    ],
)
def test_resolve_runs(args, expected):
    runs = resolve_runs(*args)
    assert runs == expected
    assert runs.fixed is (not runs.adaptive)


def test_resolve_runs_refuses_runs_beside_min_runs():
    with pytest.raises(ValueError, match=r"give 'runs' .* not both"):
        resolve_runs(5, 3, None, "fail")


def test_resolve_runs_refuses_max_below_min():
    with pytest.raises(ValueError, match="max_runs 4 is below min_runs 6"):
        resolve_runs(None, 6, 4, "fail")
