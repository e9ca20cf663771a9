"""Property tests for the batch statistics and the streaming detectors."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from goldband.monitors import ADWIN, DDM, PageHinkley, jensen_shannon, ks, psi, wasserstein

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = arrays(np.float64, st.integers(1, 60), elements=finite)
small_ints = arrays(np.float64, st.integers(1, 60), elements=st.integers(-3, 3).map(float))
either = st.one_of(samples, small_ints)


@given(either, either)
def test_ks_statistic_is_in_unit_interval_and_symmetric(a: np.ndarray, b: np.ndarray) -> None:
    r = ks(a, b)
    assert 0.0 <= r.statistic <= 1.0
    assert r.p_value is not None and 0.0 <= r.p_value <= 1.0
    assert ks(b, a).statistic == r.statistic
    assert ks(a, a).statistic == 0.0


@given(either, either, st.integers(2, 12))
def test_psi_is_non_negative_and_zero_on_itself(a: np.ndarray, b: np.ndarray, bins: int) -> None:
    assert psi(a, b, bins=bins).statistic >= 0.0
    assert psi(a, a, bins=bins).statistic == 0.0


@given(either, either, st.integers(2, 12))
def test_jensen_shannon_is_in_unit_interval(a: np.ndarray, b: np.ndarray, bins: int) -> None:
    r = jensen_shannon(a, b, bins=bins)
    assert 0.0 <= r.statistic <= 1.0
    assert jensen_shannon(a, a, bins=bins).statistic == 0.0


@given(either, either)
def test_wasserstein_is_non_negative(a: np.ndarray, b: np.ndarray) -> None:
    r = wasserstein(a, b)
    assert r.statistic >= 0.0 and r.effect_size >= 0.0


streams = arrays(np.float64, st.integers(0, 400), elements=st.one_of(
    st.floats(-10, 10, allow_nan=False), st.sampled_from([0.0, 1.0, 5.0])))


@settings(max_examples=60, deadline=None)
@given(streams, st.integers(0, 400), st.sampled_from([1, 2, 5]), st.sampled_from([1, 4, 32]),
       st.sampled_from([1e-3, 0.3]))
def test_adwin_batch_equals_loop_and_resumes(values: np.ndarray, cut: int, max_buckets: int,
                                             clock: int, delta: float) -> None:
    params = {"max_buckets": max_buckets, "clock": clock, "delta": delta,
              "min_window_length": 1, "grace_period": 0}
    loop = ADWIN(**params)
    hits = [i for i, x in enumerate(values.tolist()) if loop.update(x).drift_detected]
    first = ADWIN(**params)
    got = first.update_many(values[:cut])
    resumed = ADWIN.from_state(json.loads(json.dumps(first.get_state())))
    got += [min(cut, len(values)) + i for i in resumed.update_many(values[cut:])]
    assert got == hits
    assert resumed.get_state() == loop.get_state()


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(0, 300), elements=st.sampled_from([0.0, 1.0])),
       st.integers(0, 300))
def test_ddm_and_page_hinkley_resume_exactly(values: np.ndarray, cut: int) -> None:
    for make in (lambda: DDM(warm_start=5), lambda: PageHinkley(threshold=3.0, min_instances=5)):
        whole = make()
        hits = whole.update_many(values)
        first = make()
        got = first.update_many(values[:cut])
        resumed = type(first).from_state(json.loads(json.dumps(first.get_state())))
        got += [min(cut, len(values)) + i for i in resumed.update_many(values[cut:])]
        assert got == hits
        assert resumed.get_state() == whole.get_state()
