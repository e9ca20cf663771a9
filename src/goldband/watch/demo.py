"""The bundled example: a churn model that first meets new customers, then a changed world.

Run it with ``goldband monitor demo`` (or ``python -m goldband.watch.demo``).
Everything is synthetic, seeded and offline; it writes only into its own
directory (a new temporary one unless ``--dir`` is given).

The model is a logistic churn model over five features (tenure, monthly
charges, support calls, contract, payment method) and it is exactly right on
its reference data. Sixteen days of 500 predictions each are logged through
``PredictionLogger``; each day's labels arrive three days later, in shuffled
order, and every night ``goldband.monitor.check`` runs:

* days 1-4, **as in training**: nothing should fire;
* days 5-8, **covariate shift**: newer customers with higher bills paying
  electronically. The inputs move (input drift, and the predictions with
  them: output drift) but the model is still right about them, so its error
  does not rise;
* days 9-16, **concept shift**: the inputs look like training again, but
  contracts no longer keep customers and support calls matter twice as much.
  Nothing moves in the inputs; the error rises once the late labels arrive.

Alongside, a nightly LLM eval series (pass rate of a golden set) slides down
slowly from day 3: no single night fails, the eval-drift watch catches the trend.

The monitors tell the three apart, alert once per incident, and the status
table and page (``status.html``) show it.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from goldband._util.scratch import demo_folder
from goldband.alerts.engine import AlertEngine, list_alerts
from goldband.clock import ManualClock
from goldband.config.alerts import AlertsConfig
from goldband.config.monitors import ModelMonitorConfig, MonitorsConfig
from goldband.store import Store, open_store
from goldband.store.models import RunRow, SeriesPoint
from goldband.store.writer import finish_run, insert_run, insert_series
from goldband.watch.log import PredictionLogger
from goldband.watch.overview import status
from goldband.watch.page import write_status_page
from goldband.watch.reference import register_reference
from goldband.watch.runner import CheckReport, check

__all__ = ["DemoResult", "main", "run_demo"]

CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENTS = ("card", "bank", "electronic", "mail")
START = datetime.fromisoformat("2026-03-02T00:00:00+00:00")
MODEL, VERSION = "churn", "1"
PHASES = (("as in training", 4), ("covariate shift", 4), ("concept shift", 8))
LABEL_LAG_DAYS = 3


# -- the synthetic world -------------------------------------------------------------------------


def draw(rng: np.random.Generator, n: int, *, shifted: bool = False) -> dict[str, np.ndarray]:
    """Customers: as in training, or the newer, pricier, electronically-paying ones."""
    return {
        "tenure_months": np.clip(np.round(rng.exponential(10 if shifted else 24, n)) + 1, 1, 72),
        "monthly_charges": np.clip(rng.normal(82 if shifted else 70, 20, n), 20, 130).round(2),
        "support_calls": rng.poisson(1.5, n).astype(np.float64),
        "contract": rng.choice(3, n, p=[0.55, 0.25, 0.20]),
        "payment_method": rng.choice(4, n, p=[0.2, 0.2, 0.5, 0.1] if shifted else [0.4, 0.3, 0.2, 0.1]),
    }


def churn_logit(x: dict[str, np.ndarray], *, changed_world: bool = False) -> np.ndarray:
    """The true log-odds of churn; the model is this function with ``changed_world=False``."""
    contract = np.array([0.9, 0.6, 0.2] if changed_world else [0.9, -0.6, -1.6])[x["contract"]]
    payment = np.array([0.0, 0.0, 0.3, 0.1])[x["payment_method"]]
    calls = (0.7 if changed_world else 0.35) * x["support_calls"]
    logit: np.ndarray = (-1.1 - 0.05 * (x["tenure_months"] - 24) + 0.015 * (x["monthly_charges"] - 70) + calls
                         + contract + payment)
    return logit


def rows(rng: np.random.Generator, n: int, phase: str) -> list[dict[str, Any]]:
    """``n`` customers of a phase with the model's prediction, confidence and the true outcome."""
    x = draw(rng, n, shifted=phase == "covariate shift")
    p_model = 1.0 / (1.0 + np.exp(-churn_logit(x)))
    p_true = 1.0 / (1.0 + np.exp(-churn_logit(x, changed_world=phase == "concept shift")))
    churned = rng.random(n) < p_true
    out = []
    for i in range(n):
        out.append({"features": {"tenure_months": float(x["tenure_months"][i]),
                                 "monthly_charges": float(x["monthly_charges"][i]),
                                 "support_calls": float(x["support_calls"][i]),
                                 "contract": CONTRACTS[x["contract"][i]],
                                 "payment_method": PAYMENTS[x["payment_method"][i]]},
                    "prediction": int(p_model[i] >= 0.5), "proba": {"0": round(1 - float(p_model[i]), 4),
                                                                    "1": round(float(p_model[i]), 4)},
                    "label": int(churned[i])})
    return out


def write_reference(path: Path, data: list[dict[str, Any]]) -> None:
    """The training snapshot as CSV: features, the model's prediction and confidence, the label."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        names = list(data[0]["features"])
        writer.writerow([*names, "prediction", "confidence", "label"])
        for row in data:
            confidence = max(row["proba"].values())
            writer.writerow([*(row["features"][n] for n in names), row["prediction"], confidence, row["label"]])


def eval_pass_rate(rng: np.random.Generator, night: int) -> float:
    """A golden set's nightly pass rate: steady at 0.90, sliding 0.012 a night from night 3 on."""
    p = 0.90 - 0.012 * max(0, night - 2)
    return float(rng.binomial(240, p) / 240)


# -- the run -------------------------------------------------------------------------------------


@dataclass
class DemoResult:
    directory: Path
    store: str | Path  # the folder's store.db, or the store given (a PostgreSQL URL)
    html: Path
    alerts: list[dict[str, Any]] = field(default_factory=list)
    days: list[dict[str, Any]] = field(default_factory=list)


def run_demo(directory: Path | None = None, *, seed: int = 7, per_day: int = 500,
             echo: Callable[[str], None] = print, store: str | None = None) -> DemoResult:
    """Run the whole example into ``directory``; returns what happened (for tests and the CLI).

    ``store``: where to keep the store (default: ``store.db`` in the directory; a PostgreSQL URL works too).
    """
    folder = demo_folder(directory, "monitor demo")
    rng = np.random.default_rng(seed)
    result = DemoResult(folder, store or folder / "store.db", folder / "status.html")
    clock = ManualClock(START - timedelta(days=1))
    reference = folder / "churn_reference.csv"
    write_reference(reference, rows(rng, 5000, "as in training"))
    echo(f"goldband monitor demo: seeded synthetic churn model, {per_day} predictions a day, labels "
         f"{LABEL_LAG_DAYS} days late\n  directory {folder}\n")
    _simulate(folder, reference, rng, clock, per_day, result, echo)
    _finish(result, clock, echo)
    return result


def _settings(folder: Path) -> tuple[MonitorsConfig, AlertsConfig]:
    monitors = MonitorsConfig(models={MODEL: ModelMonitorConfig(window=500, label_delay="4d")})
    alerts = AlertsConfig.model_validate({"cooldown": "2d", "sinks": [
        {"type": "log"}, {"type": "jsonl", "path": str(folder / "alerts.jsonl")}]})
    return monitors, alerts


def _simulate(folder: Path, reference: Path, rng: np.random.Generator, clock: ManualClock, per_day: int,
              result: DemoResult, echo: Callable[[str], None]) -> None:
    monitors, alerts = _settings(folder)
    sink_output = io.StringIO()
    pending: dict[int, list[tuple[str, int]]] = {}
    with open_store(result.store) as store, PredictionLogger(MODEL, store=result.store, version=VERSION,
                                                             clock=clock) as logger:
        register_reference(store, MODEL, reference.name, version=VERSION, root=folder)
        engine = AlertEngine(store, alerts, clock=clock, root=folder, stream=sink_output)
        _nightly_evals(store, rng, range(-24, 0))
        echo(_TIMELINE_HEADER)
        for day, phase in enumerate((p for p, n in PHASES for _ in range(n)), 1):
            clock.set(START + timedelta(days=day - 1, hours=6))
            pending[day] = _log_day(logger, rng, day, phase, per_day)
            labelled = _log_labels(logger, rng, pending.pop(day - LABEL_LAG_DAYS, []), day)
            logger.flush()
            _nightly_evals(store, rng, [day])
            clock.set(START + timedelta(days=day - 1, hours=23))
            report = check(store, monitors, alerts, clock=clock, root=folder, engine=engine)
            result.days.append(_day_line(day, phase, labelled, report, echo))
            for line in sink_output.getvalue().splitlines():
                echo(f"     {_clip(line, 127)}")
            sink_output.seek(0)
            sink_output.truncate()


def _log_day(logger: Any, rng: np.random.Generator, day: int, phase: str, n: int) -> list[tuple[str, int]]:
    base = START + timedelta(days=day - 1)
    out = []
    for i, row in enumerate(rows(rng, n, phase)):
        when = base + timedelta(seconds=(i + 0.5) * 86400 / n)
        pid = logger.log(row["features"], row["prediction"], proba=row["proba"], time=when,
                         prediction_id=f"d{day:02d}-{i:04d}")
        out.append((pid, row["label"]))
    return out


def _log_labels(logger: Any, rng: np.random.Generator, labels: list[tuple[str, int]], day: int) -> int:
    """A day's labels, three days late and in shuffled order (out-of-order arrival)."""
    when = START + timedelta(days=day - 1, hours=6)
    for k in rng.permutation(len(labels)):
        pid, label = labels[int(k)]
        logger.log_label(pid, label, time=when)
    return len(labels)


def _nightly_evals(store: Store, rng: np.random.Generator, nights: Any) -> None:
    """Complete nightly runs, each with the golden set's pass rate as its series point."""
    for night in nights:
        started = (START + timedelta(days=night - 1, hours=2)).isoformat(timespec="milliseconds")
        run = RunRow(f"demo-night-{night + 100:03d}", "nightly", "running", started)
        labels = {"goldenset": "support", "target": "support-v1", "kind": "nightly"}
        with store.transaction() as conn:
            insert_run(conn, run)
            insert_series(conn, [SeriesPoint("llm-eval", "support-v1", "pass_rate", eval_pass_rate(rng, night),
                                             started, labels, run.id)])
            finish_run(conn, run.id, status="complete", exit_status=0)


_TIMELINE_HEADER = ("day  phase            labels  input drift (window)                       output drift"
                    "                error rate fed  new alerts\n" + "-" * 132)


def _day_line(day: int, phase: str, labelled: int, report: CheckReport, echo: Callable[[str], None]) -> dict[str, Any]:
    model = next(m for m in report.models if m.model == MODEL)
    window = model.windows[-1] if model.windows else None
    concept = model.concept
    error = f"{concept.mean_error:.3f} ({concept.fed})" if concept and concept.mean_error is not None else "-"
    fired = [d.event for d in report.delivered]
    line = {"day": day, "phase": phase, "labels": labelled, "window": window, "error": error,
            "alerts": [(e.id, e.severity, e.rule) for e in fired],
            "detections": concept.detections if concept else []}
    inputs = ", ".join(window.drifted_features) if window and window.input_drifted else "-"
    outputs = ", ".join(window.drifted_outputs) if window and window.output_drifted else "-"
    alerts = ", ".join(f"#{e.id} {e.rule}" for e in fired) or ""
    echo(f"{day:>3}  {phase:<15}  {labelled:>6}  {_clip(inputs, 41):<41}  {_clip(outputs, 26):<26}  "
         f"{error:>14}  {alerts}")
    return line


def _finish(result: DemoResult, clock: ManualClock, echo: Callable[[str], None]) -> None:
    with open_store(result.store) as store:
        overview = status(store, clock=clock)
        result.alerts = list_alerts(store.conn, limit=None)
        write_status_page(overview, result.html)
    echo("\n" + overview.render())
    echo(f"\nstatus page  {result.html}\nalerts       {result.directory / 'alerts.jsonl'}\nstore        "
         f"{result.store}\nexplore      goldband monitor status --store {result.store}\n"
         f"             goldband alerts list --all --store {result.store}")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def main() -> None:
    """``python -m goldband.watch.demo [DIR]``."""
    run_demo(Path(sys.argv[1]) if len(sys.argv) > 1 else None)


if __name__ == "__main__":
    main()
