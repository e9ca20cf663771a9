"""Set gates (goldband.bands.setgate): the share of a golden set's cases that PASS, the case as the unit."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goldband.bands.intervals import clopper_pearson_interval, wilson_interval
from goldband.bands.setgate import (
    SetBand,
    SetGate,
    cases_to_pass,
    count,
    exit_status,
    from_values,
    gate_values,
    set_gate,
)

STATUSES = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR", "QUARANTINED")


def test_counting_rules_pass_counts_the_rest_does_not_quarantined_and_non_gating_are_left_out() -> None:
    verdicts = ["PASS", "PASS", "FAIL", "INCONCLUSIVE", "ERROR", "QUARANTINED", ("PASS", False), ("FAIL", False)]
    assert count(verdicts) == (5, 2, 3)
    gate = set_gate("s", "t", verdicts, SetBand(0.5))
    assert (gate.cases, gate.passes, gate.excluded) == (5, 2, 3)
    assert (gate.low, gate.high) == wilson_interval(2, 5, confidence=0.9)


def test_the_interval_is_over_cases_and_decides_like_a_case_band() -> None:
    passing = set_gate("s", "t", ["PASS"] * 48 + ["FAIL"] * 2, SetBand(0.8, confidence=0.95))
    assert passing.status == "PASS" and passing.low >= 0.8 and "lower bound" in passing.reason
    failing = set_gate("s", "t", ["PASS"] * 30 + ["FAIL"] * 20, SetBand(0.9, confidence=0.95))
    assert failing.status == "FAIL" and failing.high < 0.9 and "upper bound" in failing.reason
    straddling = set_gate("s", "t", ["PASS"] * 46 + ["FAIL"] * 4, SetBand(0.9, confidence=0.95))
    assert straddling.status == "INCONCLUSIVE" and straddling.low < 0.9 <= straddling.high
    assert straddling.line() == "set s \u00d7 t: 46/50 cases pass 0.92 [0.81, 0.97] >= 0.9: INCONCLUSIVE"


def test_clopper_pearson_on_request() -> None:
    gate = set_gate("s", "t", ["PASS"] * 18 + ["FAIL"] * 2, SetBand(0.6, method="clopper-pearson"))
    assert (gate.low, gate.high) == clopper_pearson_interval(18, 20, confidence=0.9)
    assert gate.method == "clopper-pearson"


def test_too_few_cases_are_inconclusive_and_say_how_many_a_pass_needs() -> None:
    band = SetBand(0.9, confidence=0.95)
    need = cases_to_pass(band)
    assert set_gate("s", "t", ["PASS"] * need, band).status == "PASS"
    few = set_gate("s", "t", ["PASS"] * (need - 1), band)
    assert few.status == "INCONCLUSIVE"
    assert f"a PASS needs at least {need}, all passing" in few.reason


def test_bar_one_is_the_exact_rule_and_no_case_is_inconclusive() -> None:
    assert set_gate("s", "t", ["PASS"] * 3, SetBand(1.0)).status == "PASS"
    assert set_gate("s", "t", ["PASS"] * 30 + ["INCONCLUSIVE"], SetBand(1.0)).status == "FAIL"
    empty = set_gate("s", "t", ["QUARANTINED"], SetBand(0.5))
    assert (empty.status, empty.cases, empty.reason) == ("INCONCLUSIVE", 0, "no gating case to count")
    assert math.isnan(empty.pass_rate) and empty.to_json()["pass_rate"] is None
    assert "0/0 cases pass -" in empty.line()


def test_what_fails_the_run_follows_the_policy_and_the_option_overrides_the_band() -> None:
    few = ["PASS"] * 5
    assert set_gate("s", "t", few, SetBand(0.9)).fails_run  # default: fail
    assert not set_gate("s", "t", few, SetBand(0.9, inconclusive="warn")).fails_run
    assert set_gate("s", "t", few, SetBand(0.9, inconclusive="more")).fails_run  # no more cases to run
    assert set_gate("s", "t", few, SetBand(0.9, inconclusive="warn"), policy="fail").fails_run
    warned = set_gate("s", "t", few, SetBand(0.9), policy="warn")
    assert not warned.fails_run and warned.line().endswith("(warn: does not fail the run)")
    failing = set_gate("s", "t", ["FAIL"] * 20, SetBand(0.9), policy="warn")
    assert failing.fails_run  # warn is for INCONCLUSIVE only
    assert exit_status(0, [warned]) == 0 and exit_status(0, [warned, failing]) == 1
    assert exit_status(3, [failing]) == 3 and exit_status(2, []) == 2  # goldband's own failure, an interrupt


@given(st.lists(st.sampled_from(STATUSES), max_size=60), st.floats(0.0, 1.0), st.floats(0.5, 0.99),
       st.sampled_from(["wilson", "clopper-pearson"]), st.sampled_from(["fail", "warn", "more"]),
       st.sampled_from(["gate", "report"]))
def test_a_gate_round_trips_through_its_series_values(statuses: list[str], bar: float, level: float,
                                                     method: str, policy: str, cases: str) -> None:
    band = SetBand(bar, confidence=level, method=method, cases=cases)  # type: ignore[arg-type]
    gate = set_gate("s", "t", statuses, band, policy=policy)
    assert 0.0 <= gate.low <= gate.high <= 1.0
    values = gate_values(gate)
    assert ("set_pass_rate" in values) == (gate.cases > 0)
    assert from_values("s", "t", values) == gate


def test_no_values_no_gate_and_bad_settings_are_refused() -> None:
    assert from_values("s", "t", {"pass_rate": 1.0}) is None
    for bad in ({"min_pass_rate": 1.5}, {"min_pass_rate": 0.5, "confidence": 1.0},
                {"min_pass_rate": 0.5, "method": "wald"}):
        with pytest.raises(ValueError):
            SetBand(**bad)  # type: ignore[arg-type]


def test_to_json_says_what_the_gate_did() -> None:
    gate = SetGate("s", "t", "FAIL", 10, 2, 0.1, 0.5, 0.9, 0.9, reason="upper bound")
    assert gate.to_json() == {"status": "FAIL", "cases": 10, "passes": 2, "pass_rate": 0.2, "low": 0.1,
                              "high": 0.5, "min_pass_rate": 0.9, "confidence": 0.9, "method": "wilson",
                              "excluded": 0, "inconclusive": "fail", "fails_run": True, "reason": "upper bound",
                              "cases_gate": True}
