"""Benjamini-Hochberg without scipy.stats gives scipy's false_discovery_control, value for value."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from goldband.monitors.fdr import adjust

_p = st.floats(0.0, 1.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(p=st.lists(st.one_of(_p, st.sampled_from([0.0, 0.01, 0.05, 1.0])), min_size=1, max_size=80),
       alpha=st.floats(0.001, 0.5))
def test_adjust_equals_scipy_bh(p: list[float], alpha: float) -> None:
    adjusted, rejected = adjust(p, alpha=alpha)
    expected = np.asarray(stats.false_discovery_control(p, method="bh"), dtype=np.float64)
    np.testing.assert_allclose(adjusted, expected, rtol=1e-12, atol=1e-15)
    assert rejected.tolist() == (expected <= alpha).tolist()
