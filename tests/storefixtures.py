"""Building stores with known contents for the store, report and CLI tests (no pytest run needed)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from goldband.results import BaselineDelta, Completion, Score, ScoredTrial, Trial, Verdict
from goldband.store import RunRow, Store, StoredVerdict, open_store, schema
from goldband.store.series import run_points
from goldband.store.writer import (
    GoldenSetRecord,
    TargetRecord,
    finish_run,
    insert_goldenset,
    insert_items,
    insert_run,
    insert_target,
    insert_trials,
    insert_verdict,
)

GS_HASH = "sha256:" + "a" * 64
TARGET_HASH = "sha256:" + "b" * 64


@dataclass
class CaseSpec:
    case_id: str
    outcomes: str  # one letter per trial: p(ass), f(ail), e(rror)
    status: str = "PASS"
    goldenset: str = "support"
    target: str = "support-v1"
    output: str = "Returns are accepted within 30 days."
    low: float | None = None
    high: float | None = None
    baseline: BaselineDelta | None = None
    tags: list[str] = field(default_factory=lambda: ["policy"])


def scored(spec: CaseSpec) -> list[ScoredTrial]:
    trials = []
    for i, letter in enumerate(spec.outcomes):
        if letter == "e":
            trial = Trial(spec.case_id, spec.target, i, None, error="timeout: no reply within 60 s",
                          error_kind="timeout")
            trials.append(ScoredTrial(trial))
            continue
        completion = Completion(spec.output if letter == "p" else f"wrong answer {i}", prompt_tokens=20,
                                completion_tokens=10, cost_usd=0.001, system_fingerprint="fp_1",
                                finish_reason="stop", latency_ms=100.0 + 10 * i)
        ok = letter == "p"
        score = Score('contains "30 days"', "pass" if ok else "fail", 1.0 if ok else 0.0,
                      "" if ok else "not found: '30 days'")
        trials.append(ScoredTrial(Trial(spec.case_id, spec.target, i, completion, cached=True, attempts=1),
                                  (score, Score("length", "pass", 1.0))))
    return trials


def verdict_of(spec: CaseSpec) -> Verdict:
    passes, fails, errors = (spec.outcomes.count(c) for c in "pfe")
    n = len(spec.outcomes)
    rate = passes / (passes + fails) if passes + fails else None
    scores = [t.score for t in scored(spec) if t.score is not None]
    return Verdict(spec.status, n, passes, fails, errors, f"pass rate {passes}/{n}",
                   sum(scores) / len(scores) if scores else None, bound="pass_rate",
                   pass_rate_low=spec.low if spec.low is not None else rate,
                   pass_rate_high=spec.high if spec.high is not None else rate, confidence=0.9,
                   runs_planned=n, baseline=spec.baseline)


def goldenset_hash(goldenset: str, version: str = "3") -> str:
    """The demo golden sets' content hashes (another version, another hash)."""
    base = GS_HASH if goldenset == "support" else "sha256:" + goldenset
    return base if version == "3" else f"{base}-v{version}"


def write_run(store: Store, run_id: str, started_at: str, cases: list[CaseSpec], *, kind: str = "ci",
              status: str = "complete", verdicts: bool = True, branch: str = "main", version: str = "3") -> RunRow:
    """A whole run: identities, items, trials, verdicts, finish, series points; ``version``: of its golden sets."""
    run = RunRow(run_id, kind, "running", started_at, git_sha="0123456789abcdef", git_branch=branch,
                 git_dirty=False, goldband_version="0.1.0", command="pytest goldensets", root="/project",
                 host="elsewhere", pid=1, mode="replay")
    with store.transaction() as conn:
        insert_run(conn, run)
        for gs in sorted({c.goldenset for c in cases}):
            metas = [{"case_id": c.case_id, "file": f"goldensets/{gs}.yaml", "line": 10 + i, "tags": c.tags,
                      "input": {"question": f"question about {c.case_id}"}, "reference": "30 days",
                      "checks": ['contains "30 days"'], "runs": len(c.outcomes), "band": {"min_pass_rate": 0.8}}
                     for i, c in enumerate(cases) if c.goldenset == gs]
            insert_goldenset(conn, run_id, GoldenSetRecord(goldenset_hash(gs, version), gs, version,
                                                           f"goldensets/{gs}.yaml", metas))
        for target in sorted({c.target for c in cases}):
            insert_target(conn, run_id, TargetRecord(TARGET_HASH if target == "support-v1" else "sha256:" + target,
                                                     target, "model", "openai/gpt-4o-mini", None, "Q: {{ q }}",
                                                     "sha256:prompt", None, None, {"temperature": 0.2}))
        insert_items(conn, run_id, [(c.goldenset, c.case_id, c.target, f"{c.goldenset}::{c.case_id}[{c.target}]",
                                     len(c.outcomes), len(c.outcomes)) for c in cases])
        for c in cases:
            insert_trials(conn, run_id, c.goldenset, scored(c))
            if verdicts:
                gs_hash = GS_HASH if version == "3" else goldenset_hash(c.goldenset, version)
                insert_verdict(conn, run_id, StoredVerdict(c.goldenset, c.case_id, c.target, None, gs_hash,
                                                           TARGET_HASH, verdict_of(c)))
        if status != "running":
            finish_run(conn, run_id, status=status, exit_status=0)
    row = store.run(run_id)
    assert row is not None
    store.replace_run_series(run_id, run_points(store, row))
    return row


def demo_cases() -> list[CaseSpec]:
    return [
        CaseSpec("refund-window", "ppppp", low=0.6, high=1.0),
        CaseSpec("express-shipping", "ppfff", "FAIL", low=0.12, high=0.77),
        CaseSpec("flaky", "pppfp", "INCONCLUSIVE", low=0.4, high=0.96),
        CaseSpec("timeouts", "eeeee", "ERROR"),
        CaseSpec("order-id", "pppp", goldenset="extract", target="extract-v1", tags=["extraction"]),
    ]


def demo_store(path: Path | str, runs: int = 3) -> Store:
    """``runs`` runs of the demo cases, a day apart; the last one is 20261103-120000-0003; ``path``: an SQLite
    file or a PostgreSQL URL (the ``store_at`` fixture gives either)."""
    store = open_store(path)
    for i in range(runs):
        write_run(store, f"202611{i + 1:02d}-120000-000{i + 1}", f"2026-11-{i + 1:02d}T12:00:00.000+00:00",
                  demo_cases())
    return store


def store_before(path: Path, migration: str) -> Database:
    """An SQLite store file as a goldband before ``migration`` left it (the migrations before it applied, its
    schema version stamped), open for the test to add old rows; close it before opening it as a store."""
    db = Database(sqlite3.connect(path, isolation_level=None), execute_plugins=False)
    schema.MIGRATIONS.apply(db, stop_before=migration)
    db.conn.execute(f"PRAGMA user_version = {schema.names().index(migration)}")
    return db
