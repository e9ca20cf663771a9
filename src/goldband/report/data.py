"""One run, loaded from the store into the shape every report renders.

Reports are always rendered from the store, never from a session's memory:
so ``goldband report RUN`` re-renders any past run exactly, and a run split
across xdist workers or resumed after a kill reports all of its results.

A report can be loaded whole (every trial in memory: small runs, the tests) or
lean (``load_report(..., trials=False)``): then each case holds only its
per-trial outcomes and scores (``CaseResult.tally``), and a renderer asks
``RunReport.trials_of(case)`` for one case's trials at a time, read from the
store while it writes that case. Memory then grows with the number of cases,
not with every trial's output: the end of a run costs O(summary).
"""

from __future__ import annotations

import itertools
import json
import shlex
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from goldband._util.runid import now
from goldband.bands.setgate import SetGate, from_values
from goldband.results import Score, ScoredTrial
from goldband.store import Rendering, RunRow, SeriesPoint, Store
from goldband.store.models import CaseCounts, CaseKey
from goldband.store.queries import TRIAL_FIELDS, trial_from_values
from goldband.store.series import SOURCE, run_points

if TYPE_CHECKING:
    from goldband.results import Verdict

TREND_METRICS = ("pass_rate", "mean_score", "error_rate")
CROSS = "\u00d7"  # the multiplication sign: golden set x target


def group_name(goldenset: str, target: str) -> str:
    """How a golden set on a target is named in reports: ``support \u00d7 support-v1``."""
    return f"{goldenset} {CROSS} {target}"


@dataclass(frozen=True)
class CaseResult:
    goldenset: str
    case_id: str
    target: str
    nodeid: str | None
    verdict: Verdict | None  # None: the run stopped before this item was decided
    trials: list[ScoredTrial]
    meta: dict[str, Any]  # file, line, tags, input, reference, description, checks (from the golden set)
    renderings: tuple[Rendering, ...] = ()  # the messages its trials sent (none: a callable, or an older store)
    tally: CaseCounts | None = None  # a lean load: every trial's outcome and score; ``trials`` is then empty

    @property
    def key(self) -> CaseKey:
        return self.goldenset, self.case_id, self.target

    @property
    def n_trials(self) -> int:
        return self.tally.n if self.tally is not None else len(self.trials)

    @property
    def scores(self) -> list[float | None]:
        """Every trial's score, by sample (None: an errored trial, or no checks)."""
        return list(self.tally.scores) if self.tally is not None else [t.score for t in self.trials]

    @property
    def outcomes(self) -> list[str]:
        """Every trial's outcome (pass, fail, error), by sample."""
        return list(self.tally.outcomes) if self.tally is not None else [t.outcome for t in self.trials]

    @property
    def clean_pass(self) -> bool:
        """PASS with every trial passing: the one kind of case whose outputs a report may sample."""
        return self.status == "PASS" and all(o == "pass" for o in self.outcomes)

    @property
    def status(self) -> str:
        return self.verdict.status if self.verdict else "NOT RUN"

    @property
    def title(self) -> str:
        return f"{self.goldenset}::{self.case_id}[{self.target}]"

    @property
    def where(self) -> str:
        line = self.meta.get("line")
        return f"{self.meta.get('file')}:{line}" if line else str(self.meta.get("file") or "")


TrialSource = Callable[[CaseKey], list[ScoredTrial]]  # reads one case's trials, by sample


@dataclass(frozen=True)
class TrendPoint:
    run_id: str
    time: str
    value: float
    version: str | None = None  # the golden set's version in that run: a trend marks where it changed


@dataclass(frozen=True)
class Group:
    """One golden set on one target within the run."""

    goldenset: str
    target: str
    cases: list[CaseResult]
    metrics: dict[str, float]  # this run's series values
    trend: dict[str, list[TrendPoint]]  # metric -> past runs' values, oldest first, this run last
    set_gate: SetGate | None = None  # the golden set's ``band: set:`` on this target (goldband.bands.setgate)

    @property
    def counts(self) -> Counter[str]:
        return Counter(c.status for c in self.cases)

    @property
    def trials(self) -> int:
        return sum(c.n_trials for c in self.cases)


@dataclass(frozen=True)
class RunReport:
    run: RunRow
    goldensets: dict[str, str]  # name -> content hash
    targets: dict[str, str]
    groups: list[Group]
    generated_at: str
    problems: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # golden set name -> version
    source: TrialSource | None = None  # a lean load: reads one case's trials from the (open) store

    def trials_of(self, case: CaseResult) -> list[ScoredTrial]:
        """Every trial of ``case`` by sample: held in memory, or (a lean report) read from the store now."""
        if case.tally is None or self.source is None:
            return case.trials
        return self.source(case.key)

    @cached_property
    def cases(self) -> list[CaseResult]:
        """Every case, group by group (once: a page of thousands of cases asks often)."""
        return [c for g in self.groups for c in g.cases]

    @cached_property
    def counts(self) -> Counter[str]:
        return Counter(c.status for c in self.cases)

    @property
    def trials(self) -> int:
        return sum(g.trials for g in self.groups)

    @property
    def cost_usd(self) -> float | None:
        costs = [g.metrics["cost_usd"] for g in self.groups if "cost_usd" in g.metrics]
        return sum(costs) if costs else None

    @property
    def verdict(self) -> str:
        """The run's headline: FAIL if any gating case failed or errored, INCONCLUSIVE, else PASS; a set gate
        that fails the run counts as its status (FAIL, or INCONCLUSIVE) would. Under a set gate with
        ``cases: report`` the set's cases gate only through it (a case not run still shows)."""
        gates = [g.set_gate for g in self.groups if g.set_gate is not None]
        own = {(g.goldenset, g.target) for g in gates if g.case_verdicts == "report"}
        gating = [c for c in self.cases if c.verdict is None
                  or (c.verdict.gating and (c.goldenset, c.target) not in own)]
        statuses = {c.status for c in gating} | {g.status for g in gates if g.fails_run}
        for status in ("ERROR", "FAIL", "NOT RUN", "INCONCLUSIVE"):
            if status in statuses:
                return "FAIL" if status in ("ERROR", "FAIL") else status
        return "PASS" if gating or gates else "EMPTY"


STATUS_ORDER = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR", "QUARANTINED", "NOT RUN")  # bands.STATUSES + NOT RUN
SEVERITY = ("FAIL", "ERROR", "INCONCLUSIVE", "NOT RUN", "QUARANTINED", "PASS")  # cases are listed worst first


def load_report(store: Store, run_id: str, *, trend_runs: int = 30, trials: bool = True,
                points: list[SeriesPoint] | None = None) -> RunReport:
    """Everything about one run a report shows, from the store; ``trials=False``: a lean report (see the
    module docstring), whose trials are read case by case while the store stays open. ``points``: the
    run's series points when the caller has just computed them (``store.series.run_points``)."""
    run = store.resolve_run(run_id)
    verdicts = store.verdicts(run.id)
    tallies = {} if trials else store.case_counts(run.id)
    held = store.scored_trials(run.id) if trials else {}
    sent = store.renderings(run.id)
    hashes = store.run_goldensets(run.id)
    metas = {name: store.cases(digest) for name, digest in hashes.items()}
    keys = sorted({*verdicts, *held, *tallies,
                   *((i["goldenset"], i["case_id"], i["target"]) for i in store.run_items(run.id))})
    points = run_points(store, run) + set_gate_points(store, run.id) if points is None else points
    groups: dict[tuple[str, str], list[CaseResult]] = {}
    for gs, case, target in keys:
        stored = verdicts.get((gs, case, target))
        groups.setdefault((gs, target), []).append(CaseResult(
            gs, case, target, stored.nodeid if stored else None, stored.verdict if stored else None,
            held.get((gs, case, target), []), metas.get(gs, {}).get(case, {}),
            tuple(sent.get((gs, case, target), ())), None if trials else tallies.get((gs, case, target), EMPTY)))
    built = [_group(store, run, gs, target, cases, points, trend_runs) for (gs, target), cases in groups.items()]
    return RunReport(run, hashes, store.run_targets(run.id), built, now(),
                     versions=store.goldenset_versions([run.id])[run.id],
                     source=None if trials else partial(case_trials, store, run.id))


EMPTY = CaseCounts(0, 0, 0, 0, None, (), (), ())  # a planned case without any stored trial


def case_trials(store: Store, run_id: str, case: CaseKey) -> list[ScoredTrial]:
    """One case's stored trials with their scores, by sample: one read along the trials' unique index,
    each trial's scores joined on (a trial's row repeats once per score). Built by position from named
    columns: a report reads every trial of a run this way, so no row dicts."""
    trials = []
    for _, rows in itertools.groupby(store.conn.execute(CASE_TRIALS_SQL, [run_id, *case]).fetchall(),
                                     key=lambda r: r[0]):
        found = list(rows)
        trials.append(ScoredTrial(trial_from_values(case[1], case[2], found[0][1:TRIAL_COLUMNS]),
                                  tuple(_score(r[TRIAL_COLUMNS:]) for r in found if r[TRIAL_COLUMNS] is not None)))
    return trials


CASE_TRIALS_SQL = (
    "SELECT t.id, " + ", ".join(f"t.{name}" for name in TRIAL_FIELDS)
    + ", s.check_name, s.kind, s.outcome, s.score, s.detail, s.evidence, s.gating, s.meta "
    "FROM trials t LEFT JOIN scores s ON s.trial_id = t.id "
    "WHERE t.run_id = ? AND t.goldenset = ? AND t.case_id = ? AND t.target = ? ORDER BY t.sample, s.idx")
TRIAL_COLUMNS = 1 + len(TRIAL_FIELDS)  # the trial's id and fields, then a score's


def _score(values: tuple[Any, ...]) -> Score:
    name, kind, outcome, value, detail, evidence, gating, meta = values
    return Score(name, outcome, value, detail or "", evidence, kind, gating=gating is None or bool(gating),
                 meta=json.loads(meta) if meta else None)


def _group(store: Store, run: RunRow, goldenset: str, target: str, cases: list[CaseResult],
           points: list[SeriesPoint], trend_runs: int) -> Group:
    metrics = {p.metric: p.value for p in points if p.labels.get("goldenset") == goldenset and p.model == target}
    trend = {m: _trend(store, run, goldenset, target, m, metrics.get(m), trend_runs) for m in TREND_METRICS}
    cases.sort(key=lambda c: (SEVERITY.index(c.status) if c.status in SEVERITY else 9, c.case_id))
    return Group(goldenset, target, cases, metrics, trend, from_values(goldenset, target, metrics))


def set_gate_points(store: Store, run_id: str) -> list[SeriesPoint]:
    """The run's stored set gates (``set_*`` points: ``goldband.session.setgates``); computed only when the
    run finished, they are read back, not recomputed, when a report is rendered again."""
    return [SeriesPoint(SOURCE, model, metric, value, time, json.loads(labels), run_id)
            for model, metric, value, time, labels in store.conn.execute(
                "SELECT model, metric, value, time, labels FROM series_points WHERE run_id = ? AND source = ? "
                "AND metric LIKE 'set\\_%' ESCAPE '\\'", [run_id, SOURCE])]


def _trend(store: Store, run: RunRow, goldenset: str, target: str, metric: str, current: float | None,
           limit: int) -> list[TrendPoint]:
    """This metric over the previous runs of the same golden set x target (any kind), then this run;
    each point with the golden set's version in that run."""
    rows = store.conn.execute(
        "SELECT run_id, time, value FROM series_points WHERE source = ? AND model = ? AND metric = ? "
        f"AND {store.json_text('labels', 'goldenset')} = ? AND time <= ? AND run_id != ? "
        "ORDER BY time DESC, id DESC LIMIT ?",
        [SOURCE, target, metric, goldenset, run.started_at, run.id, max(0, limit - 1)]).fetchall()
    versions = store.goldenset_versions([run.id, *(r for r, _, _ in rows if r)])
    past = [TrendPoint(r, t, v, versions.get(r, {}).get(goldenset)) for r, t, v in reversed(rows) if v is not None]
    if current is not None:
        past.append(TrendPoint(run.id, run.started_at, current, versions[run.id].get(goldenset)))
    return past


def show_command(run_id: str, case: CaseResult) -> str:
    """The command that prints every trial of ``case``: ``goldband show RUN SET::CASE --target T``."""
    ref = shlex.quote(f"{case.goldenset}::{case.case_id}")
    return f"goldband show {shlex.quote(run_id)} {ref} --target {shlex.quote(case.target)}"


def case_json(case: CaseResult, trials: list[ScoredTrial] | None = None) -> dict[str, Any]:
    """A case as plain JSON (for report.json), with ``trials`` (default: those it holds)."""
    return {
        "goldenset": case.goldenset, "case": case.case_id, "target": case.target, "nodeid": case.nodeid,
        "status": case.status, "where": case.where, "verdict": case.verdict.to_json() if case.verdict else None,
        "tags": case.meta.get("tags") or [], "input": case.meta.get("input"),
        "reference": case.meta.get("reference"),
        "messages": [{"hash": r.hash, "messages": r.messages, "tools": r.tools, "samples": list(r.samples)}
                     for r in case.renderings],
        "trials": [trial_json(t) for t in (case.trials if trials is None else trials)],
    }


def trial_json(st: ScoredTrial) -> dict[str, Any]:
    t = st.trial
    return {
        "sample": t.sample, "outcome": st.outcome, "score": st.score, "cached": t.cached, "attempts": t.attempts,
        "error": t.error, "error_kind": t.error_kind,
        "completion": t.completion.to_json() if t.completion else None,
        "scores": [{"check": s.check, "kind": s.kind, "outcome": s.outcome, "score": s.score, "detail": s.detail,
                    "evidence": s.evidence} for s in st.scores],
    }


def pretty(value: Any) -> str:
    """Case input or reference as readable text."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, indent=1, ensure_ascii=False, default=str)
