"""A classic model's evaluation set, and each version's predictions on it (the gate's inputs).

The evaluation set is the versioned, labelled holdout declared in goldband.yaml
(``registry.models.NAME.eval``), optionally joined with the most recent labelled
production predictions of the model from the store (``fresh``: cases shaped
like production). Both versions are evaluated on exactly the same examples.

Predictions come from the model's own ``predict: module:function``, called as
``predict(artifact, frame)``: ``artifact`` is the version's verified artifact
path, ``frame`` the features as columns (``{name: [values]}``;
``pandas.DataFrame(frame)`` makes a DataFrame). It returns one prediction per
row: a class label, a probability of the positive class (binary
classification; label metrics threshold it), or a number (regression).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goldband._util.imports import import_callable
from goldband.config.registry import EvalSetConfig
from goldband.errors import ConfigError, RegistryError
from goldband.registry.artifacts import file_sha256
from goldband.store import Store
from goldband.watch.db import latest_labelled
from goldband.watch.tables import read_rows

__all__ = ["EvalSet", "Predict", "load_eval_set", "predict_with", "predictions"]

Frame = dict[str, list[Any]]
Predict = Callable[[Path | None, Frame], Sequence[Any]]


@dataclass(frozen=True)
class EvalSet:
    """The examples both versions are judged on: features as columns, labels, and where they came from."""

    frame: Frame
    labels: list[Any]
    source: dict[str, Any]

    @property
    def rows(self) -> int:
        return len(self.labels)


def load_eval_set(config: EvalSetConfig, *, root: Path, store: Store | None = None,
                  model: str | None = None) -> EvalSet:
    """The holdout (``config.path``), plus up to ``config.fresh`` recent labelled production predictions."""
    path = root / config.path
    rows = [_example(row, line, config, path) for line, row in read_rows(path)]
    if not rows:
        raise ConfigError("the evaluation set has no rows", where=str(config.path),
                          expected="a labelled holdout with at least one row")
    fresh = _fresh(store, model, config.fresh) if store is not None and model and config.fresh else []
    names = config.features or [c for c in rows[0][0] if c not in (config.label, config.id)]
    frame = {name: [features.get(name) for features, _ in [*rows, *fresh]] for name in names}
    source = {"path": config.path, "version": config.version, "sha256": file_sha256(path), "rows": len(rows),
              "fresh": len(fresh), "features": names}
    return EvalSet(frame, [label for _, label in [*rows, *fresh]], source)


def _example(row: dict[str, Any], line: int, config: EvalSetConfig, path: Path) -> tuple[dict[str, Any], Any]:
    label = row.get(config.label)
    if label is None or label == "":
        raise ConfigError(f"row has no label in column '{config.label}'", where=f"{path}:{line}",
                          expected="every holdout row labelled", fix="label it, or drop the row")
    return {k: v for k, v in row.items() if k != config.label}, label


def _fresh(store: Store, model: str, limit: int) -> list[tuple[dict[str, Any], Any]]:
    """The most recent labelled production predictions of ``model`` (any version), oldest first."""
    return [(features, label) for _, features, label in latest_labelled(store.conn, model, limit)]


def predict_with(ref: str, root: Path) -> Predict:
    """The model's ``predict`` callable (a ConfigError naming it when it cannot be imported)."""
    try:
        func: Predict = import_callable(ref, root)
    except ConfigError as exc:
        raise ConfigError(str(exc), where=f"registry predict {ref}",
                          fix="make the module importable from the project root") from None
    return func


def predictions(predict: Predict, ref: str, artifact: Path | None, evalset: EvalSet) -> list[Any]:
    """One version's predictions on the evaluation set; RegistryError when ``predict`` fails or miscounts."""
    try:
        found = list(predict(artifact, evalset.frame))
    except Exception as exc:  # the user's code: its failure is the gate's error, reported, never a crash
        raise RegistryError(f"predict raised {type(exc).__name__}: {exc}", where=f"{ref} (predict)",
                            expected="one prediction per row of the evaluation set",
                            fix="run the predict callable on the holdout by hand to see the error") from None
    if len(found) != evalset.rows:
        raise RegistryError(f"predict returned {len(found)} predictions for {evalset.rows} rows",
                            where=f"{ref} (predict)", expected="one prediction per row, in row order")
    return found
