"""A run's series points: one per golden set x target x metric, from its stored results.

These are the input of the drift monitors and of the reports' trend plots.
Computed from the store (not from one process's memory), so a run split over
xdist workers, or resumed, gets the same points as a run in one go.

Metrics (``source = 'llm-eval'``, ``model`` = the target name, labels
``{"goldenset", "target", "kind"}``, time = the run's start):

=====================  ===================================================================
pass_rate              passing trials / scored trials (errors excluded, as in a verdict)
mean_score             mean trial score (errored trials have none)
error_rate             errored trials / trials
inconclusive_share     INCONCLUSIVE verdicts / verdicts
cost_usd               total cost of the trials (only when some cost is known)
latency_p50_ms         median trial latency (only when some latency is known)
latency_p95_ms         95th percentile trial latency (linear interpolation)
=====================  ===================================================================

A golden set with a set gate (``band: set:``) also gets ``set_*`` points in the
run (``set_pass_rate``, its interval ``set_pass_rate_low``/``set_pass_rate_high``,
``set_cases``, ``set_passes``, ``set_excluded``, ``set_min_pass_rate``,
``set_confidence`` and the codes ``set_method``, ``set_inconclusive``,
``set_cases_report``): not computed here but by ``goldband.session.setgates``
when the run ends (``goldband.bands.setgate.gate_values``), with the same
source and labels; docs/store.md lists them.

A draft run (``runs.draft``: a golden set changed under its version and run
anyway) gets its points computed for its own reports but never stored
(``stored_points``): monitors, trends and alerts read only runs that count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from goldband.store.models import RunRow, SeriesPoint
from goldband.store.queries import Queries

SOURCE = "llm-eval"
METRICS = ("pass_rate", "mean_score", "error_rate", "inconclusive_share", "cost_usd", "latency_p50_ms",
           "latency_p95_ms")


@dataclass
class _Tally:
    outcomes: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation, as numpy's default; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def run_points(store: Queries, run: RunRow) -> list[SeriesPoint]:
    """Every series point of one run, from its trials and verdicts."""
    tallies: dict[tuple[str, str], _Tally] = {}
    for gs, target, outcome, score, cost, latency in store.conn.execute(
            "SELECT goldenset, target, outcome, score, cost_usd, latency_ms FROM trials WHERE run_id = ?", [run.id]):
        tally = tallies.setdefault((gs, target), _Tally())
        tally.outcomes.append(outcome)
        for values, value in ((tally.scores, score), (tally.costs, cost), (tally.latencies, latency)):
            if value is not None:
                values.append(value)
    for gs, target, status in store.conn.execute(
            "SELECT goldenset, target, status FROM verdicts WHERE run_id = ?", [run.id]):
        tallies.setdefault((gs, target), _Tally()).verdicts.append(status)
    return [point for (gs, target), tally in sorted(tallies.items())
            for point in _points(run, gs, target, tally)]


def stored_points(run: RunRow, points: list[SeriesPoint]) -> list[SeriesPoint]:
    """The points of ``run`` that go into the shared series table: none for a draft run."""
    return [] if run.draft else points


def _points(run: RunRow, goldenset: str, target: str, tally: _Tally) -> list[SeriesPoint]:
    values = _metrics(tally)
    labels = {"goldenset": goldenset, "target": target, "kind": run.kind}
    if run.environment is not None:  # a series per environment: staging's drift never moves production's watch
        labels["environment"] = run.environment
    return [SeriesPoint(SOURCE, target, metric, value, run.started_at, labels, run.id)
            for metric in METRICS if (value := values.get(metric)) is not None]


def _metrics(tally: _Tally) -> dict[str, float | None]:
    n, outcomes = len(tally.outcomes), tally.outcomes
    scored = outcomes.count("pass") + outcomes.count("fail")
    return {
        "pass_rate": outcomes.count("pass") / scored if scored else None,
        "mean_score": sum(tally.scores) / len(tally.scores) if tally.scores else None,
        "error_rate": outcomes.count("error") / n if n else None,
        "inconclusive_share": (tally.verdicts.count("INCONCLUSIVE") / len(tally.verdicts)
                               if tally.verdicts else None),
        "cost_usd": sum(tally.costs) if tally.costs else None,
        "latency_p50_ms": percentile(tally.latencies, 50),
        "latency_p95_ms": percentile(tally.latencies, 95),
    }
