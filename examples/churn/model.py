"""A small churn model in numpy: logistic regression over the customer features goldband's demos use.

What the registry calls: ``predict(artifact, frame)`` loads the artifact (a folder
holding ``weights.json``) and returns the probability of churn for every row of
``frame`` (features as columns). ``train(rows)`` fits the weights by Newton's
method (iteratively reweighted least squares) with a small ridge penalty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

NUMERIC = ("tenure_months", "monthly_charges", "support_calls")
CATEGORIES = {"contract": ("month-to-month", "one-year", "two-year"),
              "payment_method": ("card", "bank", "electronic", "mail")}


def design(frame: Mapping[str, Sequence[Any]]) -> np.ndarray:
    """The design matrix: an intercept, the numeric features (scaled), one-hot categories (first dropped)."""
    n = len(frame[NUMERIC[0]])
    columns = [np.ones(n)]
    scale = {"tenure_months": 24.0, "monthly_charges": 70.0, "support_calls": 1.5}
    columns += [np.asarray(frame[name], dtype=float) / scale[name] for name in NUMERIC]
    for name, levels in CATEGORIES.items():
        values = [str(v) for v in frame[name]]
        columns += [np.asarray([v == level for v in values], dtype=float) for level in levels[1:]]
    return np.column_stack(columns)


def train(frame: Mapping[str, Sequence[Any]], labels: Sequence[Any], *, ridge: float = 1e-3) -> list[float]:
    """Logistic-regression weights by Newton's method (IRLS)."""
    x, y = design(frame), np.asarray([float(v) for v in labels])
    weights = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(x @ weights)))
        gradient = x.T @ (p - y) + ridge * weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return [float(w) for w in weights]


def save(weights: Sequence[float], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "weights.json"
    path.write_text(json.dumps({"model": "logistic-regression", "features": [*NUMERIC, *CATEGORIES],
                                "weights": list(weights)}, indent=1) + "\n", encoding="utf-8")
    return path


def predict(artifact: Path | None, frame: Mapping[str, Sequence[Any]]) -> list[float]:
    """P(churn) for every row of ``frame``, from the weights in the artifact folder."""
    if artifact is None:
        raise ValueError("the churn model needs its artifact folder")
    weights = np.asarray(json.loads((Path(artifact) / "weights.json").read_text(encoding="utf-8"))["weights"])
    return [float(p) for p in 1.0 / (1.0 + np.exp(-(design(frame) @ weights)))]
