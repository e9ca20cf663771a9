"""Building monitored models in real store files for the monitor and alert tests (no logger thread needed)."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from goldband.store import Store, open_store
from goldband.watch import db
from goldband.watch.demo import rows as churn_rows
from goldband.watch.demo import write_reference
from goldband.watch.records import Issue, label_row, prediction_row
from goldband.watch.reference import register_reference

T0 = datetime.fromisoformat("2026-03-02T00:00:00+00:00")


def churn_reference(folder: Path, *, seed: int = 1, n: int = 3000) -> Path:
    """The demo's churn model on its training distribution, as a reference CSV."""
    path = folder / "churn_reference.csv"
    write_reference(path, churn_rows(np.random.default_rng(seed), n, "as in training"))
    return path


def log_rows(store: Store, data: list[dict[str, Any]], *, start: datetime = T0, step_s: float = 60.0,
             model: str = "churn", version: str = "1", prefix: str = "p", labels: bool = False,
             environment: str | None = None) -> list[str]:
    """Store predictions (and, with ``labels``, their labels) as the logger would, served in ``environment``
    (None: the default); returns their ids."""
    issues: list[Issue] = []
    preds, labs = [], []
    for i, row in enumerate(data):
        pid = f"{prefix}{i:05d}"
        when = start + timedelta(seconds=i * step_s)
        preds.append(prediction_row(model, version, row["features"], row["prediction"], prediction_id=pid,
                                    time=when, proba=row.get("proba"), issues=issues))
        if labels:
            labs.append(label_row(model, pid, row["label"], time=when + timedelta(days=1)))
    with store.transaction() as conn:
        db.insert_predictions(conn, preds, environment=environment)
        db.insert_labels(conn, labs)
    return [p.prediction_id for p in preds]


def churn_store(folder: Path, data: list[dict[str, Any]], *, step_s: float = 60.0,
                at: str | None = None) -> tuple[str | Path, list[str]]:
    """A store with the churn reference (written to ``folder``) registered and ``data`` logged; where it is and
    the ids. ``at``: the store (``store_at``: an SQLite file or a PostgreSQL URL; default ``folder/s.db``)."""
    path: str | Path = at or folder / "s.db"
    with open_store(path) as store:
        register_reference(store, "churn", churn_reference(folder), version="1")
        ids = log_rows(store, data, step_s=step_s)
    return path, ids


def other_store(store_at: str, name: str) -> str:
    """A second, empty store on the same backend as ``store_at``: a file beside it, or a new database on the
    same PostgreSQL server (for tests that compare two stores)."""
    if not store_at.startswith("postgresql:"):
        return str(Path(store_at).with_name(f"{name}.db"))
    import psycopg

    base, _, db = store_at.rpartition("/")
    with psycopg.connect(store_at, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}_{name}"'.encode())
    return f"{base}/{db}_{name}"


def log_labels(store: Store, pairs: list[tuple[str, Any]], *, stamp: str | None = None, model: str = "churn") -> None:
    with store.transaction() as conn:
        db.insert_labels(conn, [label_row(model, pid, y, time=T0) for pid, y in pairs], stamp=stamp)


def phase(n: int, name: str, seed: int) -> list[dict[str, Any]]:
    return churn_rows(np.random.default_rng(seed), n, name)


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path
