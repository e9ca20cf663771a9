"""A real model on real data: scikit-learn's bundled handwritten digits, logged through the public API.

A logistic regression is trained on 400 of the digits (8x8 images, pooled to
4x4 = 16 features); the other 1,397 are the population it serves. Its
registered reference (features, predictions, class probabilities and labels)
is a sample of 1,000 of them, and production draws from all of them, a day of
predictions at a time through ``PredictionLogger``, with each
day's labels arriving two days late through ``log_label``. Each day ends with
``goldband monitor check``. Four worlds:

* no drift: production draws from the same pool as the reference (several
  seeds: not one alert may open);
* input drift: production sends only digits 3, 4, 6 and 7 (a population
  shift the model handles: they are among its easiest, so its error falls);
* concept drift: production inputs as before, but two digits' true labels
  are swapped (the same inputs now mean something else);
* both: the population shift and the swap.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

from goldband.alerts.engine import list_alerts
from goldband.clock import ManualClock
from goldband.store import open_store
from goldband.watch import ModelMonitorConfig, MonitorsConfig, PredictionLogger, check, register_reference, status

SHIFTED_TO = [3, 4, 6, 7]  # digits the model gets right 88-98 % of the time (1 and 8: 39-72 %)
START = datetime.fromisoformat("2026-05-04T00:00:00+00:00")
DAYS, CHANGE_DAY, PER_DAY, LAG = 14, 6, 300, 2
# min_effect 0.15: with ten classes, chi-square on the predictions needs a reference of about 1,300 to have power
# at Cramér's V 0.1 against windows of 300 (goldband.monitors.sizing), and this one has 1,000
MONITORS = MonitorsConfig(models={"digits": ModelMonitorConfig(window=PER_DAY, label_delay="4d", min_effect=0.15)})


def pooled(images: np.ndarray) -> np.ndarray:
    """8x8 images to 4x4 sums of 2x2 blocks: 16 features with values 0-64."""
    return images.reshape(-1, 4, 2, 4, 2).sum(axis=(2, 4)).reshape(-1, 16).astype(np.float64)


class World:
    """The digits split in two, training and the served population (the reference samples it); the model."""

    def __init__(self, seed: int) -> None:
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression

        data = load_digits()
        x, y = pooled(data.images), data.target
        order = np.random.default_rng(seed).permutation(len(y))
        self.train, self.pool = order[:400], order[400:]
        self.ref = self.pool[:1000]
        self.x, self.y = x, y
        self.model = LogisticRegression(max_iter=2000).fit(x[self.train] / 64, y[self.train])

    def write_reference(self, path: Path) -> Path:
        proba = self.model.predict_proba(self.x[self.ref] / 64)
        names = [f"f{i}" for i in range(16)]
        with path.open("w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow([*names, "prediction", *(f"proba_{c}" for c in range(10)), "label"])
            for i, row in zip(self.ref, proba, strict=True):
                out.writerow([*self.x[i], int(row.argmax()), *np.round(row, 4), int(self.y[i])])
        return path

    def day(self, rng: np.random.Generator, *, shifted: bool) -> np.ndarray:
        """A day's production rows (indexes into the data): the pool, or only the digits SHIFTED_TO."""
        weights = np.isin(self.y[self.pool], SHIFTED_TO) * 1.0 if shifted else np.ones(len(self.pool))
        return rng.choice(self.pool, PER_DAY, p=weights / weights.sum())


def truth(label: int, swapped: bool) -> int:
    return {1: 7, 7: 1}.get(label, label) if swapped else label


def simulate(folder: Path, store_path: str, seed: int, *, shifted: bool = False,
             swapped: bool = False) -> dict[str, Any]:
    """Run the world for DAYS days (the change, if any, from CHANGE_DAY on) into the store at ``store_path``;
    return alerts and status."""
    world, rng = World(seed), np.random.default_rng(seed + 100)
    clock = ManualClock(START)
    pending: dict[int, list[tuple[str, int]]] = {}
    with open_store(store_path) as store, PredictionLogger("digits", store=store_path, clock=clock) as logger:
        register_reference(store, "digits", world.write_reference(folder / "reference.csv"))
        for day in range(1, DAYS + 1):
            changed = day >= CHANGE_DAY
            rows = world.day(rng, shifted=shifted and changed)
            proba = world.model.predict_proba(world.x[rows] / 64)
            when = START + timedelta(days=day - 1)
            pending[day] = []
            for k, (i, p) in enumerate(zip(rows, proba, strict=True)):
                pid = logger.log({f"f{j}": float(v) for j, v in enumerate(world.x[i])}, int(p.argmax()),
                                 proba={str(c): float(v) for c, v in enumerate(p)},
                                 time=when + timedelta(seconds=k * 86400 / PER_DAY), prediction_id=f"d{day}-{k}")
                pending[day].append((str(pid), truth(int(world.y[i]), swapped and changed)))
            for pid, label in pending.pop(day - LAG, []):  # the labels of two days ago arrive now
                logger.log_label(pid, label, time=when + timedelta(hours=20))
            logger.flush()
            clock.set(when + timedelta(hours=23))
            check(store, MONITORS, include_eval=False, clock=clock)
        for pid, label in (pair for day in sorted(pending) for pair in pending[day]):  # the last labels catch up
            logger.log_label(pid, label, time=clock.now())
        logger.flush()
        clock.advance(LAG * 86400)
        check(store, MONITORS, include_eval=False, clock=clock)
        alerts = {a["rule"] for a in list_alerts(store.conn, limit=None)}
        return {"alerts": alerts, "status": status(store, MONITORS).models[0]}


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_no_drift_raises_no_alert(tmp_path: Path, store_at: str, seed: int) -> None:
    found = simulate(tmp_path, store_at, seed)
    assert found["alerts"] == set()
    assert found["status"].diagnosis == "stable" and found["status"].reference.get("warning") is None


def test_input_drift_is_reported_as_input_drift_once_the_labels_show_the_error_held(tmp_path: Path,
                                                                                   store_at: str) -> None:
    found = simulate(tmp_path, store_at, 1, shifted=True)
    assert "input-drift" in found["alerts"] and "concept-drift" not in found["alerts"]
    assert found["status"].diagnosis == "input drift"


def test_concept_drift_is_concept_drift(tmp_path: Path, store_at: str) -> None:
    found = simulate(tmp_path, store_at, 1, swapped=True)
    assert "concept-drift" in found["alerts"] and "input-drift" not in found["alerts"]
    assert found["status"].diagnosis == "concept drift"


def test_input_and_concept_drift_together(tmp_path: Path, store_at: str) -> None:
    found = simulate(tmp_path, store_at, 1, shifted=True, swapped=True)
    assert {"input-drift", "concept-drift"} <= found["alerts"]
    assert found["status"].diagnosis == "input + concept drift"
