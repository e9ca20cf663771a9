"""The reference (training) snapshot of a model version: a file, its content hash, a feature spec.

``register_reference`` records the file's ``sha256`` and the spec in the store
(``monitor_references``); ``load_reference`` reads it back for the checks and
refuses a file whose bytes changed since (a changed reference under the same
version would silently move every drift statistic). Register a new version
instead.

The spec says which columns are features and whether each is ``numeric`` or
``categorical``. Declared kinds win; otherwise a column is numeric when every
value reads as a number and it has more than ``CATEGORICAL_MAX_LEVELS``
distinct values (a 0/1 flag is categorical), categorical otherwise. The
columns named in ``columns`` (id, time, prediction, confidence, label,
version, and ``proba_*``) are never features.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goldband._util.runid import now
from goldband.config.monitors import ColumnsConfig
from goldband.errors import MonitorError
from goldband.store.sqltext import upsert
from goldband.watch.records import category_key, dumps, error_value, number
from goldband.watch.tables import file_format, file_hash, read_rows

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from goldband.store import Store

__all__ = ["CATEGORICAL_MAX_LEVELS", "Reference", "load_reference", "register_reference"]

CATEGORICAL_MAX_LEVELS = 5
MIN_ROWS = 30
_LOADED: dict[tuple[str, ...], Reference] = {}  # the last reference parsed (see load_reference)


@dataclass(frozen=True)
class Spec:
    """Features and their kinds, the special columns, and the task."""

    features: dict[str, str]
    columns: dict[str, str]
    task: str = "classification"
    error_rate: float | None = None  # the model's error on the reference, when it has predictions and labels
    levels: dict[str, int] = field(default_factory=dict)  # categorical feature -> distinct values (for sizing)
    classes: int | None = None  # distinct predicted classes on the reference (classification; for sizing)

    def to_json(self) -> dict[str, Any]:
        return {"features": self.features, "columns": self.columns, "task": self.task, "error_rate": self.error_rate,
                "levels": self.levels, "classes": self.classes}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Spec:
        return cls(dict(data["features"]), dict(data["columns"]), str(data.get("task", "classification")),
                   data.get("error_rate"), dict(data.get("levels") or {}), data.get("classes"))


@dataclass
class Reference:
    """A loaded reference: its identity, spec, and the values the batch tests compare against."""

    model: str
    version: str
    path: str
    hash: str
    format: str
    spec: Spec
    rows: int
    numeric: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)  # NaN = missing
    categorical: dict[str, list[str | None]] = field(default_factory=dict)
    predictions: list[Any] | None = None  # category keys (classification) or floats (regression)
    confidence: npt.NDArray[np.float64] | None = None
    labels: list[Any] | None = None
    proba: dict[str, npt.NDArray[np.float64]] | None = None  # class key -> probabilities (NaN = missing)

    @property
    def error_rate(self) -> float | None:
        """The model's error on its reference (needs predictions and labels there)."""
        if self.predictions is None or self.labels is None:
            return None
        errors = [e for p, y in zip(self.predictions, self.labels, strict=True)
                  if p is not None and y is not None and (e := error_value(p, y, self.spec.task)) is not None]
        return sum(errors) / len(errors) if errors else None


def register_reference(store: Store, model: str, path: str | Path, *, version: str = "1",
                       features: Mapping[str, str] | None = None, columns: ColumnsConfig | None = None,
                       task: str = "classification", root: Path | None = None, replace: bool = False) -> Reference:
    """Record ``path`` as the reference of ``model`` ``version`` (idempotent for the same file content).

    A different file (by content hash) for an already registered version is
    refused unless ``replace``: give the new snapshot a new version.
    """
    shown = Path(path)
    full = shown if shown.is_absolute() or root is None else root / shown
    digest = file_hash(full)
    ref = _parse(model, str(version), full, digest, columns or ColumnsConfig(), features, task)
    ref.path = str(shown)
    existing = store.conn.execute("SELECT hash FROM monitor_references WHERE model = ? AND version = ?",
                                  [model, ref.version]).fetchone()
    if existing and existing[0] != digest and not replace:
        raise MonitorError(
            f"model {model!r} version {ref.version!r} already has a reference with another content "
            f"({existing[0][:19]}…, the file is now {digest[:19]}…)", where=str(shown),
            expected="the same reference for the same model version",
            fix="register the new snapshot under a new version (--version), or pass --replace to overwrite")
    if not existing or existing[0] != digest:
        _store(store, ref)
    return ref


def load_reference(store: Store, model: str, version: str, *, root: Path | None = None) -> Reference | None:
    """The registered reference of ``model`` ``version`` (None when there is none); MonitorError if it changed."""
    row = store.conn.execute("SELECT path, hash, spec FROM monitor_references WHERE model = ? AND version = ?",
                             [model, version]).fetchone()
    if row is None:
        return None
    shown = Path(row[0])
    full = shown if shown.is_absolute() or root is None else root / shown
    digest = file_hash(full)
    if digest != row[1]:
        raise MonitorError(
            f"the reference of {model!r} version {version!r} changed since it was registered "
            f"({row[1][:19]}…, now {digest[:19]}…)", where=str(shown),
            expected="the registered file, byte for byte",
            fix="restore the file, or register the new snapshot under a new model version")
    key = (model, version, str(full), digest, row[2])
    if key not in _LOADED:  # parsed once per process: a check loop re-reads an unchanged file (hash checked above)
        spec = Spec.from_json(_json(row[2]))
        _LOADED.clear()
        _LOADED[key] = _parse(model, version, full, digest, ColumnsConfig(**spec.columns), spec.features, spec.task)
    return replace(_LOADED[key], path=str(shown))


def references(store: Store, model: str) -> dict[str, dict[str, Any]]:
    """Registered references of a model by version (path, hash, rows, created_at, spec)."""
    rows = store.conn.execute("SELECT version, path, hash, rows, created_at, spec FROM monitor_references "
                              "WHERE model = ? ORDER BY created_at", [model])
    return {r[0]: {"path": r[1], "hash": r[2], "rows": r[3], "created_at": r[4], "spec": _json(r[5])} for r in rows}


# -- parsing -------------------------------------------------------------------------------


def _parse(model: str, version: str, path: Path, digest: str, columns: ColumnsConfig,
           declared: Mapping[str, str] | None, task: str) -> Reference:
    rows = [row for _, row in read_rows(path)]
    if len(rows) < MIN_ROWS:
        raise MonitorError(f"the reference has {len(rows)} rows", where=str(path),
                           expected=f"at least {MIN_ROWS} rows (a few thousand give stable drift tests)")
    names = list(dict.fromkeys(k for row in rows for k in row))
    spec = Spec(_features(path, names, rows, columns, declared), columns.model_dump(), task)
    ref = Reference(model, version, str(path), digest, file_format(path), spec, len(rows))
    _fill(ref, rows, columns, path)
    levels = {name: len({v for v in values if v is not None}) for name, values in ref.categorical.items()}
    classes = (len({p for p in ref.predictions if p is not None})
               if ref.predictions is not None and task != "regression" else None)
    ref.spec = replace(spec, error_rate=ref.error_rate, levels=levels, classes=classes)
    return ref


def _features(path: Path, names: list[str], rows: list[dict[str, Any]], columns: ColumnsConfig,
              declared: Mapping[str, str] | None) -> dict[str, str]:
    special = columns.special()
    candidates = [n for n in names if n not in special and not n.startswith(columns.proba_prefix)]
    if declared:
        unknown = [n for n in declared if n not in names]
        if unknown:
            near = difflib.get_close_matches(unknown[0], candidates, n=1)
            raise MonitorError(f"declared feature {unknown[0]!r} is not a column of the reference",
                               where=str(path), expected=f"one of: {', '.join(candidates)}",
                               fix=f"did you mean {near[0]!r}?" if near else "correct the feature name")
        return {n: declared[n] for n in declared}
    if not candidates:
        raise MonitorError("the reference has no feature columns", where=str(path),
                           expected=f"columns besides {', '.join(sorted(special))}")
    return {n: _kind([row.get(n) for row in rows]) for n in candidates}


def _kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if any(isinstance(v, bool) for v in present):
        return "categorical"
    try:
        numbers = [number(v) for v in present]
    except ValueError:
        return "categorical"
    distinct = {n for n in numbers if n is not None}
    return "numeric" if len(distinct) > CATEGORICAL_MAX_LEVELS else "categorical"


def _fill(ref: Reference, rows: list[dict[str, Any]], columns: ColumnsConfig, path: Path) -> None:
    import numpy as np

    for name, kind in ref.spec.features.items():
        if kind == "numeric":
            ref.numeric[name] = np.array([_num(row.get(name), name, path) for row in rows], dtype=np.float64)
        else:
            ref.categorical[name] = [category_key(row.get(name)) for row in rows]
    if any(columns.prediction in row for row in rows):
        ref.predictions = [_output(row.get(columns.prediction), ref.spec.task) for row in rows]
    if any(columns.label in row for row in rows):
        ref.labels = [_output(row.get(columns.label), ref.spec.task) for row in rows]
    ref.confidence = _confidence(rows, columns)
    ref.proba = _proba(rows, columns)


def _num(value: Any, name: str, path: Path) -> float:
    try:
        result = number(value)
    except ValueError:
        raise MonitorError(f"feature {name!r} is declared numeric but has the value {value!r}", where=str(path),
                           expected="numbers (or empty for missing)",
                           fix=f"declare {name}: categorical, or clean the column") from None
    return math.nan if result is None or not math.isfinite(result) else result


def _output(value: Any, task: str) -> Any:
    """A prediction or label: a number (regression; None when unreadable) or a category key."""
    return _safe_number(value) if task == "regression" else category_key(value)


def _confidence(rows: list[dict[str, Any]], columns: ColumnsConfig) -> npt.NDArray[np.float64] | None:
    import numpy as np

    proba = sorted({k for row in rows for k in row if k.startswith(columns.proba_prefix)})
    if not any(columns.confidence in row for row in rows) and not proba:
        return None
    values = []
    for row in rows:
        raw = row.get(columns.confidence)
        if raw is None and proba:
            probs = [p for k in proba if (p := _safe_number(row.get(k))) is not None]
            raw = max(probs) if probs else None
        value = _safe_number(raw)
        values.append(value if value is not None and 0.0 <= value <= 1.0 else math.nan)
    return np.array(values, dtype=np.float64)


def _proba(rows: list[dict[str, Any]], columns: ColumnsConfig) -> dict[str, npt.NDArray[np.float64]] | None:
    """The ``proba_<class>`` columns by class key (as ``category_key`` makes it); NaN where unreadable or
    outside [0, 1]; None when the reference has none."""
    import numpy as np

    prefix = columns.proba_prefix
    names = sorted({k for row in rows for k in row if k.startswith(prefix) and len(k) > len(prefix)})
    if not names:
        return None
    found: dict[str, npt.NDArray[np.float64]] = {}
    for name in names:
        values = [_safe_number(row.get(name)) for row in rows]
        found[str(category_key(name[len(prefix):]))] = np.array(
            [v if v is not None and 0.0 <= v <= 1.0 else math.nan for v in values], dtype=np.float64)
    return found


def _safe_number(value: Any) -> float | None:
    try:
        return number(value)
    except ValueError:
        return None


def _store(store: Store, ref: Reference) -> None:
    with store.transaction() as conn:
        conn.execute(upsert("monitor_references", ("model", "version", "path", "hash", "format", "spec", "rows",
                                                   "created_at"), ("model", "version")),
                     [ref.model, ref.version, ref.path, ref.hash, ref.format, dumps(ref.spec.to_json()), ref.rows,
                      now()])


def _json(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    return data
