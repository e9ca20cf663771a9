"""The joint input-drift test of a window, against a reference registered in a real store."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from goldband.config.monitors import ModelMonitorConfig
from goldband.errors import MonitorError
from goldband.store import open_store
from goldband.watch import Reference, register_reference
from goldband.watch.checks import input_drift, window_columns
from goldband.watch.db import StoredPrediction
from goldband.watch.joint import fitted_detector, joint_drift
from monitorkit import write_csv

CFG = ModelMonitorConfig(window=500)


def customers(seed: int, n: int, *, flip: bool = False, crossed: bool = False) -> list[dict[str, Any]]:
    """Usage and spend correlated +0.8 (``flip``: -0.8), plan and region paired (``crossed``: swapped)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    pro = rng.random(n) < 0.5
    north = pro if crossed else ~pro
    sign = -1.0 if flip else 1.0
    return [{"usage": float(z[i, 0]), "spend": float(sign * 0.8 * z[i, 0] + 0.6 * z[i, 1]),
             "plan": "pro" if pro[i] else "basic", "region": "north" if north[i] else "south"} for i in range(n)]


def stored(rows: list[dict[str, Any]]) -> list[StoredPrediction]:
    return [StoredPrediction(i, f"p{i}", f"2026-03-02T00:00:{i % 60:02d}.000+00:00", row, "0", None)
            for i, row in enumerate(rows)]


def register(folder: Path, rows: list[dict[str, Any]], name: str = "ref.csv") -> Reference:
    names = list(rows[0])
    path = write_csv(folder / name, names, [[r[n] for n in names] for r in rows])
    # SQLite only: a store just to build the reference; these tests check windows in memory
    with open_store(folder / "s.db") as store:
        return register_reference(store, "m", path, version=name)


@pytest.fixture(scope="module")
def ref(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return register(tmp_path_factory.mktemp("joint"), customers(1, 3000))


def joint(ref: Reference, rows: list[dict[str, Any]], method: str = "pca", **knobs: Any) -> Any:
    columns, _, _ = window_columns(ref, stored(rows))
    return joint_drift(ref, columns, alpha=knobs.get("alpha", 0.05), min_effect=knobs.get("min_effect"),
                       method=method, seed=knobs.get("seed", 0))


@pytest.mark.parametrize("method", ["pca", "mmd"])
def test_a_flipped_correlation_is_joint_input_drift_while_no_feature_drifts(ref: Reference, method: str) -> None:
    rows = customers(2, 500, flip=True)
    columns, _, _ = window_columns(ref, stored(rows))
    assert not any(t.drifted for t in input_drift(ref, columns, CFG))
    row = joint(ref, rows, method)
    assert (row.name, row.kind, row.test, row.drifted) == ("joint", "multivariate", method, True)
    assert row.p_adjusted == row.p_value < 0.01 and row.effect >= row.threshold and row.n == 500


def test_a_crossed_combination_of_categories_is_joint_input_drift(ref: Reference) -> None:
    rows = customers(3, 500, crossed=True)
    columns, _, _ = window_columns(ref, stored(rows))
    assert not any(t.drifted for t in input_drift(ref, columns, CFG))
    assert joint(ref, rows).drifted


def test_an_unchanged_window_is_not_joint_drift_and_reads_for_people(ref: Reference) -> None:
    row = joint(ref, customers(4, 500))
    assert not row.drifted and row.p_value is not None and row.p_value > 0.05
    assert row.value.startswith("reconstruction error ") and " +- " in row.reference
    assert row.to_json()["kind"] == "multivariate"


def test_the_fitted_detector_is_cached_per_reference_method_and_seed(ref: Reference) -> None:
    first = fitted_detector(ref, "pca", 0)
    assert fitted_detector(ref, "pca", 0) is first and fitted_detector(ref, "pca", 1) is not first


def test_a_segment_of_the_same_file_gets_its_own_fit(ref: Reference) -> None:
    half = [i for i, plan in enumerate(ref.categorical["plan"]) if plan == "pro"]
    segment = replace(ref, rows=len(half), numeric={n: v[half] for n, v in ref.numeric.items()},
                      categorical={n: [v[i] for i in half] for n, v in ref.categorical.items()})
    assert segment.hash == ref.hash and fitted_detector(segment, "pca", 0) is not fitted_detector(ref, "pca", 0)


def test_the_same_seed_gives_the_same_row(ref: Reference) -> None:
    rows = customers(5, 500)
    assert joint(ref, rows, "mmd", seed=7) == joint(ref, rows, "mmd", seed=7)


def test_a_reference_with_one_feature_gives_a_skipped_row_with_the_reason(tmp_path: Path) -> None:
    one = register(tmp_path, [{"usage": float(x)} for x in np.random.default_rng(6).normal(size=200)])
    row = joint(one, [{"usage": 0.5}] * 100)
    assert not row.drifted and row.p_value is None and math.isnan(row.effect)
    assert row.value == "skipped: the reference has 1 feature; a joint test needs at least 2 (the per-feature " \
                        "tests cover one)"


def test_a_window_too_small_gives_a_skipped_row(ref: Reference) -> None:
    row = joint(ref, customers(7, 12))
    assert not row.drifted and row.value == "skipped: the window has 12 rows; a joint test needs at least 20"


def test_missing_values_in_the_window_are_imputed(ref: Reference) -> None:
    rows = customers(8, 500)
    for r in rows[::5]:
        del r["spend"]
        r["plan"] = None
    assert joint(ref, rows).p_value is not None


def test_an_unknown_method_names_the_config_key(ref: Reference) -> None:
    with pytest.raises(MonitorError, match=r"multivariate: multivariate method 'lda'; expected pca or mmd"):
        joint(ref, customers(9, 50), "lda")


def test_a_window_whose_only_change_is_joint_has_input_drift_and_says_why(ref: Reference) -> None:
    """Through check_window, as goldband monitor check decides: one Benjamini-Hochberg family, then the flags."""
    from goldband.watch.checks import check_window

    moved = check_window(ref, stored(customers(2, 500, flip=True)), CFG)
    assert moved.input_drifted and moved.drifted_features == []
    assert moved.joint is not None and moved.joint.drifted and moved.joint.p_adjusted is not None
    assert moved.to_json()["joint"]["drifted"] is True
    calm = check_window(ref, stored(customers(4, 500)), CFG)
    assert not calm.input_drifted and calm.joint is not None and not calm.joint.drifted
    off = check_window(ref, stored(customers(2, 500, flip=True)), CFG.model_copy(update={"multivariate": "off"}))
    assert not off.input_drifted and off.joint is None
