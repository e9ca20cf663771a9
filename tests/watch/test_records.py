"""What a logged prediction becomes: refused rows, kept-but-counted values, one category per value."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldband.errors import RowRefused
from goldband.watch.records import Issue, category_key, label_row, number, prediction_row, to_time


def make(features: object = None, prediction: object = 1, **kw: object) -> tuple[object, list[Issue]]:
    issues: list[Issue] = []
    row = prediction_row("m", "1", {"a": 1.0} if features is None else features, prediction, issues=issues,
                         time=kw.pop("time", 0), **kw)  # type: ignore[arg-type]
    return row, issues


def test_a_clean_prediction_keeps_its_values() -> None:
    row, issues = make({"a": 1, "b": "x", "c": True, "d": np.float64(2.5)}, prediction="yes",
                       prediction_id=17, proba={"yes": 0.7, "no": 0.3})
    assert issues == []
    assert row.features == {"a": 1, "b": "x", "c": True, "d": 2.5}  # type: ignore[attr-defined]
    assert row.prediction_id == "17" and row.prediction == "yes"  # type: ignore[attr-defined]
    assert row.confidence == 0.7  # type: ignore[attr-defined]  # the top class probability
    assert row.time == "1970-01-01T00:00:00.000+00:00"  # type: ignore[attr-defined]


def test_nan_is_missing_infinity_is_counted_and_odd_values_are_dropped_with_the_row_kept() -> None:
    row, issues = make({"nan": math.nan, "none": None, "inf": math.inf, "list": [1, 2]})
    assert row.features == {"nan": None, "none": None, "inf": None, "list": None}  # type: ignore[attr-defined]
    assert [(i.kind, i.field) for i in issues] == [("non_finite", "inf"), ("bad_value", "list")]
    assert "stored as missing" in issues[0].message


@pytest.mark.parametrize(("kwargs", "kind"), [
    ({"features": [1, 2]}, "bad_row"),
    ({"features": {1: 2}}, "bad_row"),
    ({"prediction": None}, "bad_prediction"),
    ({"prediction": math.nan}, "bad_prediction"),
    ({"prediction": {"a": 1}}, "bad_prediction"),
    ({"time": "yesterday"}, "bad_time"),
    ({"prediction_id": ""}, "bad_row"),
    ({"prediction_id": 1.5}, "bad_row"),
])
def test_rows_that_cannot_be_predictions_are_refused_with_a_reason(kwargs: dict[str, object], kind: str) -> None:
    with pytest.raises(RowRefused) as info:
        make(**kwargs)  # type: ignore[arg-type]
    assert info.value.issue.kind == kind and info.value.issue.message


def test_a_bad_confidence_or_probabilities_are_dropped_and_counted() -> None:
    row, issues = make(confidence=1.5)
    assert row.confidence is None and issues[0].kind == "bad_confidence"  # type: ignore[attr-defined]
    row, issues = make(proba={"a": "x"})
    assert row.proba is None and issues[0].kind == "bad_proba"  # type: ignore[attr-defined]
    row, issues = make(confidence=0.4, proba={"a": 0.9})
    assert row.confidence == 0.4 and issues == []  # type: ignore[attr-defined]  # given confidence wins


def test_times_in_every_form_become_utc_milliseconds() -> None:
    assert to_time("2026-03-02T01:02:03Z") == "2026-03-02T01:02:03.000+00:00"
    assert to_time("2026-03-02T03:02:03+02:00") == "2026-03-02T01:02:03.000+00:00"
    assert to_time(datetime(2026, 3, 2, 1, 2, 3)) == "2026-03-02T01:02:03.000+00:00"
    assert to_time(datetime(2026, 3, 2, tzinfo=UTC).timestamp()) == "2026-03-02T00:00:00.000+00:00"
    for bad in ("", None, math.nan, True):
        with pytest.raises(ValueError):
            to_time(bad)


def test_labels_need_an_id_and_a_value() -> None:
    assert label_row("m", 5, np.int64(1), time=0).label == 1
    with pytest.raises(RowRefused, match="without a prediction id"):
        label_row("m", None, 1, time=0)
    with pytest.raises(RowRefused, match="label is missing"):
        label_row("m", "p", math.nan, time=0)


def test_csv_text_and_json_numbers_are_the_same_category_and_number() -> None:
    assert category_key(1) == category_key(1.0) == category_key("1") == category_key(np.int64(1)) == "1"
    assert category_key(True) == "true" and category_key(math.nan) is None and category_key(0.5) == "0.5"
    assert number(" 4.5 ") == 4.5 and number("") is None and number(math.nan) is None
    with pytest.raises(ValueError, match="not a number"):
        number("abc")


@settings(max_examples=2000, deadline=None)
@given(st.floats(min_value=-2e9, max_value=4e9, allow_nan=False, allow_infinity=False))
def test_unix_seconds_are_written_as_the_datetime_path_writes_them(value: float) -> None:
    from datetime import UTC, datetime

    from goldband.clock import iso
    from goldband.watch.records import to_time

    assert to_time(value) == iso(datetime.fromtimestamp(value, UTC))
