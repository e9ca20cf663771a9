"""Turning what callers log into rows the store keeps: one set of rules for the logger and batch files.

A prediction is *refused* (not stored, counted as an issue) only when it cannot
be a prediction at all: its features are not a mapping with string keys, its
prediction is not a finite scalar, its id or time cannot be read. Anything
smaller is *kept and counted*: a NaN or missing feature value is stored as
null (a missing value, whose share the monitors watch); an infinite value is
stored as null and counted as ``non_finite``; a value that is neither a number,
a string nor a boolean is stored as null and counted as ``bad_value``; a
confidence outside [0, 1] or malformed class probabilities are dropped and
counted. So a bad field never costs the rest of the row, and nothing already
logged is lost.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from goldband.clock import iso
from goldband.errors import RowRefused

__all__ = [
    "Issue",
    "LabelRow",
    "PredictionRow",
    "RowRefused",
    "category_key",
    "error_value",
    "label_row",
    "number",
    "prediction_row",
    "scalar",
    "to_time",
]

Scalar = str | int | float | bool
_PLAIN = frozenset({str, int, float, bool, type(None)})  # kept as they are when every float is finite
_NAME = frozenset({str})


@dataclass(frozen=True, slots=True)
class Issue:
    """One counted problem: its kind, the field concerned ('' when none) and the message."""

    kind: str
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class PredictionRow:
    model: str
    version: str
    prediction_id: str
    time: str
    features: dict[str, Scalar | None]
    prediction: Scalar
    confidence: float | None
    proba: dict[str, float] | None
    encoded: str | None = None  # the feature values as the store keeps them (a JSON array), when already written


@dataclass(frozen=True, slots=True)
class LabelRow:
    model: str
    prediction_id: str
    label: Scalar
    time: str


_UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?(Z|\+00:00)")


def to_time(value: Any) -> str:
    """The store's time text (UTC, milliseconds) from an ISO string, a datetime or a Unix timestamp.

    UTC text in whole seconds or milliseconds (the common export) is rewritten without building a
    datetime (a third of a file's ingest time otherwise): the clock fields are range-checked here and
    each new date is checked once by a full parse.

    >>> to_time("2026-01-01T00:00:00Z"), to_time("2026-01-01T00:00:00.250+00:00")
    ('2026-01-01T00:00:00.000+00:00', '2026-01-01T00:00:00.250+00:00')
    >>> to_time("2026-02-30T00:00:00Z")
    Traceback (most recent call last):
    ValueError: day is out of range for month
    """
    if isinstance(value, str) and _UTC_TEXT.fullmatch(value):
        text = value[:19] + (value[19:23] if value[19:20] == "." else ".000") + "+00:00"
        clock_ok = int(text[11:13]) < 24 and int(text[14:16]) < 60 and int(text[17:19]) < 60
        if clock_ok and (text[:10] in _DAYS_SEEN or _valid_day(text)):
            return text
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return _epoch(float(value))
    elif isinstance(value, str) and value.strip():
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError(f"not a time: {value!r}")
    return iso(moment)


_SECONDS_SEEN: dict[int, str] = {}  # whole Unix seconds already written as text (bounded: cleared at 10,000)


def _epoch(value: float) -> str:
    """Unix seconds as the store's text, as ``iso(datetime.fromtimestamp(value, UTC))`` writes them (microseconds
    rounded, then cut to milliseconds), the second's text written once: a logger stamps every call with
    ``time.time()``, and consecutive calls share their second.

    >>> _epoch(1_767_225_600.25), _epoch(1.9999999)
    ('2026-01-01T00:00:00.250+00:00', '1970-01-01T00:00:02.000+00:00')
    """
    seconds = math.floor(value)
    micros = round((value - seconds) * 1_000_000)
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    prefix = _SECONDS_SEEN.get(seconds)
    if prefix is None:
        prefix = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        if len(_SECONDS_SEEN) > 10_000:
            _SECONDS_SEEN.clear()
        _SECONDS_SEEN[seconds] = prefix
    return f"{prefix}.{micros // 1000:03d}+00:00"


_DAYS_SEEN: set[str] = set()  # dates already checked by a full parse (bounded: cleared at 10,000)


def _valid_day(text: str) -> bool:
    """Parse once per new date (raises ValueError on an impossible one, as the slow path would)."""
    datetime.fromisoformat(text)
    if len(_DAYS_SEEN) > 10_000:
        _DAYS_SEEN.clear()
    _DAYS_SEEN.add(text[:10])
    return True


def scalar(value: Any) -> Scalar | None:
    """A JSON scalar for ``value`` (numpy scalars unwrapped); None for missing; ValueError otherwise."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise ValueError(f"non-finite value {value!r}")
        return value
    item = getattr(value, "item", None)  # numpy scalar
    if callable(item) and getattr(value, "shape", None) == ():
        return scalar(item())
    raise ValueError(f"not a number, string or boolean: {_short(value)}")


def number(value: Any) -> float | None:
    """A numeric feature value: None when missing, ValueError when it is not a number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        value = value.strip()
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a number: {_short(value)}") from None
    return None if math.isnan(result) else result


def category_key(value: Any) -> str | None:
    """A categorical value as text, so 1, 1.0 and "1" (CSV) are the same category; None when missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return category_key(scalar(value)) if not isinstance(value, int) else str(value)


def error_value(prediction: Any, label: Any, task: str) -> float | None:
    """1.0 for a wrong class and 0.0 for a right one; the absolute error for regression; None if unreadable."""
    if prediction is None or label is None:
        return None
    if task != "regression":
        return 0.0 if category_key(prediction) == category_key(label) else 1.0
    try:
        p, y = number(prediction), number(label)
    except ValueError:
        return None
    return None if p is None or y is None else abs(p - y)


def prediction_row(
    model: str,
    version: str,
    features: Any,
    prediction: Any,
    *,
    prediction_id: Any = None,
    time: Any = None,
    confidence: Any = None,
    proba: Any = None,
    issues: list[Issue],
) -> PredictionRow:
    """The row to store, appending kept-but-counted problems to ``issues``; RowRefused otherwise. A ``features``
    dict is kept as it is, not copied: callers pass their own copy."""
    pid = _prediction_id(prediction_id)
    kept, encoded = _features(features, pid, issues)
    return PredictionRow(model, version, pid, _time(time, pid), kept, _required(prediction, "prediction", pid),
                         *_confidence(confidence, proba, pid, issues), encoded)


def label_row(model: str, prediction_id: Any, label: Any, *, time: Any) -> LabelRow:
    """A label to store; RowRefused when the id, the label or the time cannot be read."""
    if prediction_id is None or (isinstance(prediction_id, str) and not prediction_id.strip()):
        raise RowRefused(Issue("bad_row", "prediction_id", "a label without a prediction id"))
    pid = _prediction_id(prediction_id)
    return LabelRow(model, pid, _required(label, "label", pid), _time(time, pid))


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(value: Any) -> str:
    """Compact JSON for the store. orjson (ten times faster: a third of an ingest was spent here) where it can;
    the standard encoder for what orjson refuses (an integer beyond 64 bits) and to refuse NaN as before."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        return _ENCODER.encode(value)
    return text if "null" not in text or _finite(value) else _ENCODER.encode(value)


def _finite(value: Any) -> bool:
    """True unless a float in ``value`` is NaN or infinite (which orjson writes as null; the store refuses it)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(map(_finite, value.values()))
    if isinstance(value, list | tuple):
        return all(map(_finite, value))
    return True


# -- the parts of a prediction ------------------------------------------------------


def _prediction_id(value: Any) -> str:
    if value is None:
        return uuid.uuid4().hex
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RowRefused(Issue("bad_row", "prediction_id", f"prediction id {_short(value)} is not a string "
                                                           "or an integer"))
    text = str(value).strip()
    if not text:
        raise RowRefused(Issue("bad_row", "prediction_id", "an empty prediction id"))
    return text


def _time(value: Any, pid: str) -> str:
    try:
        return to_time(value)
    except (ValueError, OverflowError, OSError):
        raise RowRefused(Issue("bad_time", "time", f"prediction {pid!r}: time {_short(value)} is not an ISO 8601 "
                                                   "time, a datetime or a Unix timestamp")) from None


def _features(features: Any, pid: str, issues: list[Issue]) -> tuple[dict[str, Scalar | None], str | None]:
    """The features to store and, in the common case, their JSON array already written.

    The common case (CSV rows; JSON rows of finite numbers) is decided by writing the values once with
    orjson, which writes NaN and infinity as ``null``: when the text has no more ``null`` than the values
    have None, every float was finite and there is nothing to convert or count (a string holding "null" only
    sends the row down the careful path). Half the cost of checking each float first.
    """
    if not isinstance(features, Mapping):
        raise RowRefused(Issue("bad_row", "features", f"prediction {pid!r}: features are "
                                                      f"{type(features).__name__}, not a mapping of name to value"))
    values = list(features.values())
    if set(map(type, values)) <= _PLAIN and set(map(type, features)) <= _NAME:
        try:
            text = orjson.dumps(values).decode()
        except TypeError:  # an integer beyond 64 bits: the careful path below
            text = None
        if text is not None and ("null" not in text or text.count("null") == values.count(None)):
            return (features if type(features) is dict else dict(features)), text  # the caller's own copy
    kept: dict[str, Scalar | None] = {}
    for name, value in features.items():
        if not isinstance(name, str):
            raise RowRefused(Issue("bad_row", "features", f"prediction {pid!r}: feature name {name!r} is not a "
                                                          "string"))
        try:
            kept[name] = scalar(value)
        except ValueError as exc:
            kind = "non_finite" if "non-finite" in str(exc) else "bad_value"
            issues.append(Issue(kind, name, f"prediction {pid!r}: feature {name!r}: {exc}; stored as missing"))
            kept[name] = None
    return kept, None


def _required(value: Any, name: str, pid: str) -> Scalar:
    """The prediction or the label: a scalar the row cannot do without (``bad_<name>`` when it is not one)."""
    try:
        result = scalar(value)
    except ValueError as exc:
        raise RowRefused(Issue(f"bad_{name}", name, f"prediction {pid!r}: {name} {exc}")) from None
    if result is None:
        raise RowRefused(Issue(f"bad_{name}", name, f"prediction {pid!r}: the {name} is missing (null or NaN)"))
    return result


def _confidence(confidence: Any, proba: Any, pid: str,
                issues: list[Issue]) -> tuple[float | None, dict[str, float] | None]:
    probs = _proba(proba, pid, issues) if proba is not None else None
    if confidence is None:
        return (max(probs.values()) if probs else None), probs
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= 1.0:
        issues.append(Issue("bad_confidence", "confidence", f"prediction {pid!r}: confidence {_short(confidence)} "
                                                            "is not a number in [0, 1]; dropped"))
        return (max(probs.values()) if probs else None), probs
    return value, probs


def _proba(proba: Any, pid: str, issues: list[Issue]) -> dict[str, float] | None:
    try:
        probs = {str(category_key(k)): float(v) for k, v in dict(proba).items()}
    except (TypeError, ValueError):
        probs = {}
    if not probs or not all(0.0 <= p <= 1.0 for p in probs.values()):
        issues.append(Issue("bad_proba", "proba", f"prediction {pid!r}: class probabilities {_short(proba)} are "
                                                  "not a mapping of class to a number in [0, 1]; dropped"))
        return None
    return probs


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
