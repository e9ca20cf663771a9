"""Data-quality rules: declared and inferred from the reference, counted per window, alerted through ``check``."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from goldband.clock import ManualClock
from goldband.config.alerts import AlertsConfig, RuleConfig
from goldband.config.monitors import QualityConfig, QualityRuleConfig
from goldband.errors import MonitorError
from goldband.store import Store, open_store
from goldband.watch import ModelMonitorConfig, MonitorsConfig, Reference, check, register_reference
from goldband.watch.checks import window_columns
from goldband.watch.db import predictions_after
from goldband.watch.quality import Rule, evaluate, infer_rules, resolve_rules
from goldband.watch.scope import Scope
from monitorkit import T0, churn_reference, log_rows, phase

WHERE = "goldband.yaml: monitors.models.churn.quality"


@pytest.fixture(scope="module")
def ref(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    folder = tmp_path_factory.mktemp("quality")
    # SQLite only: a store just to build the reference once; the rules are checked on windows in memory
    with open_store(folder / "s.db") as store:
        return register_reference(store, "churn", churn_reference(folder), version="1")


def columns(ref: Reference, data: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    """The window's columns as check reads them (an SQLite file only: these tests are about the rules; the
    store-facing ones below run on both backends)."""
    with open_store(folder / "w.db") as store:
        log_rows(store, data)
        rows = list(predictions_after(store.conn, Scope("churn", "1"), ("", 0)))
    return window_columns(ref, rows)[0]


def quality(**rules: dict[str, Any]) -> QualityConfig:
    return QualityConfig(rules={k: QualityRuleConfig(**v) for k, v in rules.items()})


def test_declared_rules_count_the_rows_that_break_them(ref: Reference, tmp_path: Path) -> None:
    data = phase(500, "as in training", 2)
    data[7]["features"]["tenure_months"] = -4.0
    data[9]["features"]["contract"] = "lifetime"
    data[11]["features"]["monthly_charges"] = None
    rules = resolve_rules(ref, quality(tenure_months={"min": 0, "max": 120},
                                       contract={"categories": ["month-to-month", "one-year", "two-year"]},
                                       monthly_charges={"max_missing": 0.01}), where=WHERE)
    found = {r.name: r for r in evaluate(rules, columns(ref, data, tmp_path))}
    low = found["tenure_months.min"]
    assert (low.violations, low.n, low.violated, low.example) == (1, 500, True, "-4")
    assert low.summary() == "tenure_months >= 0: 1 of 500 rows (0.2%) break it, e.g. -4"
    assert not found["tenure_months.max"].violated
    assert found["contract.categories"].violated and found["contract.categories"].example == "'lifetime'"
    missing = found["monthly_charges.max_missing"]
    assert (missing.violations, missing.share, missing.violated) == (1, 0.002, False)


def test_a_declared_tolerance_lets_a_few_rows_through(ref: Reference, tmp_path: Path) -> None:
    data = phase(500, "as in training", 3)
    for row in data[:4]:
        row["features"]["tenure_months"] = -1.0
    rules = resolve_rules(ref, quality(tenure_months={"min": 0, "tolerance": 0.01}), where=WHERE)
    [result] = evaluate(rules, columns(ref, data, tmp_path))
    assert (result.violations, result.violated) == (4, False)  # 0.8% is within 1%


def test_inferred_rules_come_from_the_reference(ref: Reference) -> None:
    rules = {r.name: r for r in infer_rules(ref, QualityConfig(infer=True))}
    tenure = ref.numeric["tenure_months"]
    assert rules["tenure_months.min"].limit == float(np.nanmin(tenure))
    assert (rules["tenure_months.min"].tolerance, rules["tenure_months.min"].reference_rows) == (0.01, len(tenure))
    assert set(rules["contract.categories"].limit) == {c for c in ref.categorical["contract"] if c is not None}
    assert rules["contract.max_missing"].limit == pytest.approx(0.05)  # no missing values in the reference
    assert all(r.inferred for r in rules.values())


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_inferred_rules_hold_on_healthy_windows(ref: Reference, tmp_path: Path, seed: int) -> None:
    rules = resolve_rules(ref, QualityConfig(infer=True), where=WHERE)
    found = evaluate(rules, columns(ref, phase(500, "as in training", seed), tmp_path))
    assert [r.name for r in found if r.violated] == []


def test_inferred_rules_catch_values_the_reference_never_had(ref: Reference, tmp_path: Path) -> None:
    data = phase(500, "as in training", 4)
    for row in data[:25]:
        row["features"]["tenure_months"] = 10_000.0
        row["features"]["payment_method"] = "crypto"
    rules = resolve_rules(ref, QualityConfig(infer=True), where=WHERE)
    broken = {r.name for r in evaluate(rules, columns(ref, data, tmp_path)) if r.violated}
    assert broken == {"tenure_months.max", "payment_method.categories"}


def test_an_inferred_rule_needs_an_improbable_count_not_one_stray_value(ref: Reference, tmp_path: Path) -> None:
    data = phase(50, "as in training", 8)
    data[0]["features"]["tenure_months"] = float(np.nanmax(ref.numeric["tenure_months"])) + 1
    rules = resolve_rules(ref, QualityConfig(infer=True), where=WHERE)
    [high] = [r for r in evaluate(rules, columns(ref, data, tmp_path)) if r.name == "tenure_months.max"]
    assert (high.violations, high.share) == (1, 0.02)  # above the 1 % floor ...
    assert high.p_value == pytest.approx(50 / (len(ref.numeric["tenure_months"]) + 50), rel=0.02)
    assert not high.violated  # ... but one value past the maximum of 3,000 in 50 rows is not improbable


def test_a_declared_rule_wins_over_the_inferred_one(ref: Reference) -> None:
    rules = resolve_rules(ref, QualityConfig(infer=True, rules={"tenure_months": QualityRuleConfig(min=0)}),
                          where=WHERE)
    [low] = [r for r in rules if r.name == "tenure_months.min"]
    assert (low.limit, low.tolerance, low.inferred) == (0.0, 0.0, False)


def test_a_rule_on_an_unknown_feature_names_the_key_and_the_features(ref: Reference) -> None:
    with pytest.raises(MonitorError) as info:
        resolve_rules(ref, quality(tenure_month={"min": 0}), where=WHERE)
    text = str(info.value)
    assert "monitors.models.churn.quality.rules.tenure_month" in text
    assert "monthly_charges" in text and "did you mean 'tenure_months'" in text


def test_a_rule_of_the_wrong_kind_for_the_feature(ref: Reference) -> None:
    with pytest.raises(MonitorError, match="min/max on 'contract', which is categorical"):
        resolve_rules(ref, quality(contract={"min": 0}), where=WHERE)
    with pytest.raises(MonitorError, match="categories on 'tenure_months', which is numeric"):
        resolve_rules(ref, quality(tenure_months={"categories": ["a"]}), where=WHERE)


@pytest.mark.parametrize(("rule", "message"), [
    ({}, "at least one of min, max, categories, max_missing"),
    ({"min": 5, "max": 1}, r"min \(5\) is above max \(1\)"),
    ({"categories": []}, "categories is empty"),
    ({"max_missing": 1.5}, "max_missing"),
    ({"min": 0, "categories": ["a"]}, "not both"),
])
def test_bad_rules_are_config_errors(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        QualityRuleConfig(**rule)


def test_an_empty_window_has_no_share() -> None:
    [result] = evaluate([Rule("x", "min", 0.0)], {"x": np.array([], dtype=np.float64)})
    assert math.isnan(result.share) and not result.violated and result.to_json()["share"] is None


# -- through check, on a real store ------------------------------------------------------------------


def store_with(folder: Path, at: str, data: list[dict[str, Any]]) -> Store:
    store = open_store(at)
    register_reference(store, "churn", churn_reference(folder), version="1")
    log_rows(store, data)
    return store


def run(store: Store, **cfg: Any) -> Any:
    monitors = MonitorsConfig(models={"churn": ModelMonitorConfig(**{"window": 500, **cfg})})
    alerts = AlertsConfig(rules=[RuleConfig(name="data-quality", source="classic-ml", metric="data_quality")])
    return check(store, monitors, alerts, include_eval=False, clock=ManualClock(T0), stream=io.StringIO())


def test_a_broken_rule_raises_an_alert_through_check(tmp_path: Path, store_at: str) -> None:
    data = phase(1000, "as in training", 5)
    data[600]["features"]["tenure_months"] = -3.0  # in the second window
    with store_with(tmp_path, store_at, data) as store:
        report = run(store, quality=quality(tenure_months={"min": 0}))
        alerts = store.conn.execute("SELECT rule, metric, summary FROM alerts").fetchall()
        results = [json.loads(r[0])
                   for r in store.conn.execute('SELECT results FROM monitor_windows ORDER BY "window"')]
        series = store.conn.execute("SELECT value FROM series_points WHERE metric = 'quality:tenure_months.min' "
                                    "ORDER BY time").fetchall()
    first, second = report.models[0].windows
    assert (first.quality_violated, second.quality_violated) == ([], ["tenure_months.min"])
    assert "data quality: 1 rule(s) broken: tenure_months >= 0: 1 of 500 rows (0.2%) break it, e.g. -3" in \
        second.summary
    assert [(a[0], a[1]) for a in alerts] == [("data-quality", "data_quality")]
    assert "tenure_months >= 0" in alerts[0][2]
    assert [q["violations"] for r in results for q in r["quality"]] == [0, 1]
    assert [v for (v,) in series] == [0.0, 0.002]


def test_rules_also_run_per_segment(tmp_path: Path, store_at: str) -> None:
    data = phase(1000, "as in training", 6)
    data[3]["features"]["tenure_months"] = -1.0
    with store_with(tmp_path, store_at, data) as store:
        report = run(store, window=1000, segments=["contract"], quality=quality(tenure_months={"min": 0}))
        results = json.loads(store.conn.execute("SELECT results FROM monitor_windows").fetchone()[0])
    [window] = report.models[0].windows
    segment = next(s for s in results["segments"] if s["value"] == data[3]["features"]["contract"])
    assert segment["quality_violated"] == ["tenure_months.min"]
    assert f"contract={segment['value']}:tenure_months.min" in window.quality_violated
