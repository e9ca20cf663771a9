"""A run's series points: the metrics drift monitors and trend plots read."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from goldband.store import open_store
from goldband.store.series import METRICS, percentile, run_points
from storefixtures import CaseSpec, write_run


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=50),
       st.sampled_from([0, 5, 50, 95, 100]))
def test_percentile_matches_numpy(values: list[float], q: float) -> None:
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-9, abs=1e-9)


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 50) is None


def test_points_per_goldenset_and_target(store_at: str) -> None:
    with open_store(store_at) as store:
        run = write_run(store, "r1", "2026-11-01T00:00:00.000+00:00", [
            CaseSpec("a", "ppff"), CaseSpec("b", "ppe", "INCONCLUSIVE"),
            CaseSpec("c", "pp", goldenset="extract", target="extract-v1"),
        ], kind="nightly")
        points = {(p.labels["goldenset"], p.metric): p for p in run_points(store, run)}
    support = {m: points[("support", m)].value for m in METRICS}
    assert support["pass_rate"] == pytest.approx(4 / 6)  # errors are not in the rate
    assert support["error_rate"] == pytest.approx(1 / 7)
    assert support["mean_score"] == pytest.approx((1 + 1 + 0.5 + 0.5 + 1 + 1) / 6)
    assert support["inconclusive_share"] == pytest.approx(0.5)
    assert support["cost_usd"] == pytest.approx(0.006)
    assert support["latency_p50_ms"] == pytest.approx(110.0)
    assert support["latency_p95_ms"] == pytest.approx(float(np.percentile([100, 110, 120, 130, 100, 110], 95)))
    point = points[("support", "pass_rate")]
    assert (point.source, point.model, point.run_id, point.time) == ("llm-eval", "support-v1", "r1",
                                                                     "2026-11-01T00:00:00.000+00:00")
    assert point.labels == {"goldenset": "support", "target": "support-v1", "kind": "nightly"}
    assert points[("extract", "pass_rate")].model == "extract-v1"


def test_a_finished_run_replaces_its_points(store_at: str) -> None:
    with open_store(store_at) as store:
        run = write_run(store, "r1", "2026-11-01T00:00:00.000+00:00", [CaseSpec("a", "pp")])
        before = len(store.series(run_id="r1"))
        store.replace_run_series("r1", run_points(store, run))
        assert len(store.series(run_id="r1")) == before == 7
