"""Reads and writes of the store API other modules build on (baselines, monitors, the judge)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from goldband.errors import StoreError
from goldband.results import BaselineDelta, Completion, Score, ScoredTrial, ToolCall, Trial
from goldband.store import DriftEvent, Rendering, SeriesPoint, Store, open_store
from goldband.store.writer import insert_rendering, insert_trials
from storefixtures import CaseSpec, demo_store, scored, verdict_of, write_run


@pytest.fixture
def store(store_at: str) -> Iterator[Store]:
    with demo_store(store_at) as store:
        yield store


def test_runs_are_listed_newest_first_and_filtered(store: Store) -> None:
    assert [r.id for r in store.runs()] == ["20261103-120000-0003", "20261102-120000-0002", "20261101-120000-0001"]
    assert [r.id for r in store.runs(limit=1)] == ["20261103-120000-0003"]
    assert store.runs(kind="nightly") == []
    assert len(store.runs(branch="main", goldenset="extract")) == 3
    assert store.runs(goldenset="nope") == []


def test_latest_run_is_the_newest_complete_one(store: Store) -> None:
    write_run(store, "20261104-120000-0004", "2026-11-04T12:00:00.000+00:00", [CaseSpec("a", "p")],
              status="incomplete")
    latest = store.latest_run()
    assert latest is not None and latest.id == "20261103-120000-0003"
    assert store.latest_run(status=None) is not None
    assert store.latest_run(kind="nightly") is None
    assert store.latest_run(goldenset="support", branch="main") == latest


def test_run_ids_resolve_from_prefixes_and_latest(store: Store) -> None:
    assert store.resolve_run("20261102").id == "20261102-120000-0002"
    assert store.resolve_run("latest").id == "20261103-120000-0003"
    with pytest.raises(StoreError, match="run id '202611' is ambiguous"):
        store.resolve_run("202611")
    with pytest.raises(StoreError) as info:
        store.resolve_run("19990101")
    assert "no run '19990101' in this store" in str(info.value)
    assert "20261103-120000-0003" in str(info.value) and "goldband history" in str(info.value)
    assert store.run("nope") is None


def test_case_counts_keep_per_trial_order(store: Store) -> None:
    counts = store.case_counts("20261103-120000-0003")
    c = counts[("support", "express-shipping", "support-v1")]
    assert (c.n, c.passes, c.fails, c.errors) == (5, 2, 3, 0)
    assert c.passed == (True, True, False, False, False)
    assert c.scores == (1.0, 1.0, 0.5, 0.5, 0.5)
    assert c.mean_score == pytest.approx(0.7)
    assert c.pass_rate == pytest.approx(0.4)
    errors = counts[("support", "timeouts", "support-v1")]
    assert errors.errors == 5 and errors.mean_score is None and errors.scores == (None,) * 5
    assert len(counts) == 5


def test_case_history_is_newest_first_with_limit(store: Store) -> None:
    points = store.case_history("support", "express-shipping", "support-v1")
    assert [p.run_id for p in points] == ["20261103-120000-0003", "20261102-120000-0002", "20261101-120000-0001"]
    first = points[0]
    assert (first.status, first.n, first.passes, first.kind, first.run_status) == ("FAIL", 5, 2, "ci", "complete")
    assert first.pass_rate == pytest.approx(0.4) and first.pass_rate_low == pytest.approx(0.12)
    assert len(store.case_history("support", "express-shipping", "support-v1", limit=2)) == 2
    assert store.case_history("support", "nope", "support-v1") == []


def test_verdicts_and_trials_round_trip(store: Store) -> None:
    spec = CaseSpec("b", "pfe", "FAIL", baseline=BaselineDelta("regressed", "r0", -0.4, -0.7, -0.1, 0.01, 0.03))
    write_run(store, "20261105-000000-0005", "2026-11-05T00:00:00.000+00:00", [spec])
    stored = store.verdicts("20261105-000000-0005")[("support", "b", "support-v1")]
    assert stored.verdict == verdict_of(spec)
    assert stored.goldenset_hash and stored.target_hash
    trials = store.scored_trials("20261105-000000-0005")[("support", "b", "support-v1")]
    assert trials == scored(spec)


def test_non_gating_scores_and_their_meta_round_trip(store: Store) -> None:
    """A resumed run must not turn per-criterion judge scores into gating ones."""
    write_run(store, "20261105-000000-0005", "2026-11-05T00:00:00.000+00:00", [CaseSpec("b", "p")])
    trial = Trial("c", "support-v1", 0, Completion(output="ok"))
    scores = (Score("rubric r", "pass", 0.8, kind="rubric", meta={"rubric_hash": "sha256:ab"}),
              Score("rubric r[tone]", "fail", 0.2, kind="rubric-criterion", gating=False))
    with store.transaction() as conn:
        insert_trials(conn, "20261105-000000-0005", "support", [ScoredTrial(trial, scores)])
    (back,) = store.scored_trials("20261105-000000-0005")[("support", "c", "support-v1")]
    assert back.scores == scores and back.outcome == "pass"


def test_tool_calls_and_errors_round_trip(store: Store) -> None:
    calls = (ToolCall("lookup_order", {"id": "A-17"}), ToolCall("raw", "{not json"))
    trials = [ScoredTrial(Trial("t", "support-v1", 0, Completion(None, calls, 12, 3, 0.0001, "fp_2", "tool_calls",
                                                                  55.5))),
              ScoredTrial(Trial("t", "support-v1", 1, None, error="http: 500", error_kind="http", attempts=3))]
    with store.transaction() as conn:
        insert_trials(conn, "20261103-120000-0003", "support", trials)
    assert store.scored_trials("20261103-120000-0003")[("support", "t", "support-v1")] == trials


def test_a_trial_is_never_stored_twice(store: Store) -> None:
    spec = CaseSpec("refund-window", "ppppp")
    with store.transaction() as conn:
        assert insert_trials(conn, "20261103-120000-0003", "support", scored(spec)) == 0
    assert store.case_counts("20261103-120000-0003")[("support", "refund-window", "support-v1")].n == 5


def test_renderings_are_stored_once_and_read_back_per_case(store: Store) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is A-17?"}]
    sent = Rendering("sha256:" + "c" * 64, messages, [{"type": "function", "function": {"name": "lookup"}}])
    batches = [scored(CaseSpec("m1", "pp")), scored(CaseSpec("m1", "pp", target="v2")), scored(CaseSpec("m2", "f"))]
    write_run(store, "r-msg", "2026-11-04T12:00:00.000+00:00", [])
    for _ in range(2):  # a resumed run or a second xdist worker writes the same again
        with store.transaction() as conn:
            for batch in batches:
                insert_rendering(conn, sent)
                insert_trials(conn, "r-msg", "support", batch, messages_hash=sent.hash)
    assert store.conn.execute("SELECT COUNT(*) FROM rendered_messages").fetchone()[0] == 1
    assert store.conn.execute("SELECT COUNT(*) FROM trials WHERE run_id = 'r-msg'").fetchone()[0] == 5
    found = store.renderings("r-msg")
    assert found == {("support", "m1", "support-v1"): [Rendering(sent.hash, messages, sent.tools, (0, 1))],
                     ("support", "m1", "v2"): [Rendering(sent.hash, messages, sent.tools, (0, 1))],
                     ("support", "m2", "support-v1"): [Rendering(sent.hash, messages, sent.tools, (0,))]}
    assert store.renderings("20261103-120000-0003") == {}  # trials that sent no messages (or were stored before)


def test_runs_and_case_history_filter_by_golden_set_version(store: Store) -> None:
    write_run(store, "20261104-120000-0004", "2026-11-04T12:00:00.000+00:00", [CaseSpec("refund-window", "pp")],
              kind="nightly", version="4")
    assert [r.id for r in store.runs(version="4")] == ["20261104-120000-0004"]
    assert len(store.runs(version="3", goldenset="extract")) == 3 and store.runs(version="4", goldenset="extract") == []
    assert store.goldenset_versions(["20261104-120000-0004", "20261101-120000-0001", "nope"]) == {
        "20261104-120000-0004": {"support": "4"}, "20261101-120000-0001": {"extract": "3", "support": "3"},
        "nope": {}}
    history = store.case_history("support", "refund-window", "support-v1", version="3")
    assert [p.run_id for p in history] == ["20261103-120000-0003", "20261102-120000-0002", "20261101-120000-0001"]
    assert [p.run_id for p in store.case_history("support", "refund-window", "support-v1", kind="nightly")] == [
        "20261104-120000-0004"]
    assert store.case_history("support", "refund-window", "support-v1", kind="ci", version="4") == []


def test_series_are_shared_by_llm_evals_and_classic_ml(store: Store) -> None:
    evals = store.series(source="llm-eval", model="support-v1", metric="pass_rate",
                         labels={"goldenset": "support", "target": "support-v1", "kind": "ci"})
    assert [p.run_id for p in evals] == ["20261101-120000-0001", "20261102-120000-0002", "20261103-120000-0003"]
    store.append_series([SeriesPoint("classic-ml", "churn", "psi", v, f"2026-11-0{i + 1}T00:00:00+00:00",
                                     {"feature": "age"}) for i, v in enumerate([0.01, 0.02, 0.3])])
    store.append_series([SeriesPoint("classic-ml", "churn", "psi", 0.5, time.time(), {"feature": "income"})])
    age = store.series(source="classic-ml", model="churn", metric="psi", labels={"feature": "age"})
    assert [p.value for p in age] == [0.01, 0.02, 0.3]
    assert [p.value for p in store.series(model="churn", labels={"feature": "age"}, limit=2)] == [0.02, 0.3]
    assert len(store.series(model="churn", since="2026-11-02T00:00:00.000+00:00")) == 3


def test_drift_events_are_recorded_per_series(store: Store) -> None:
    event_id = store.record_drift_event(DriftEvent("page_hinkley", "classic-ml", "churn", "psi", 0.3,
                                                   "2026-11-03T00:00:00+00:00", {"feature": "age"},
                                                   threshold=0.2, details={"delta": 0.005}))
    events = store.drift_events(model="churn", labels={"feature": "age"})
    assert [e.id for e in events] == [event_id]
    assert events[0].details == {"delta": 0.005} and events[0].time == "2026-11-03T00:00:00.000+00:00"


def test_judge_cache_keeps_the_last_value(store: Store) -> None:
    assert store.judge_cache_get("k") is None
    store.judge_cache_put("k", {"score": 3})
    store.judge_cache_put("k", {"score": 4, "evidence": "ok"})
    assert store.judge_cache_get("k") == {"score": 4, "evidence": "ok"}
    assert store.judge_cache_clear() == 1


def test_a_killed_run_reads_as_incomplete(store_at: str) -> None:
    with open_store(store_at) as store:
        write_run(store, "r-dead", "2026-11-01T00:00:00.000+00:00", [CaseSpec("a", "p")], status="running")
        store.conn.execute("UPDATE runs SET host = ?, pid = ? WHERE id = 'r-dead'", [socket.gethostname(), 2**22 + 7])
        write_run(store, "r-alive", "2026-11-02T00:00:00.000+00:00", [CaseSpec("a", "p")], status="running")
        store.conn.execute("UPDATE runs SET host = ?, pid = ? WHERE id = 'r-alive'", [socket.gethostname(),
                                                                                        os.getpid()])
        dead, alive = store.run("r-dead"), store.run("r-alive")
        assert dead is not None and dead.status == "incomplete" and not dead.alive
        assert alive is not None and alive.status == "running" and alive.alive
        write_run(store, "r-done", "2026-11-03T00:00:00.000+00:00", [CaseSpec("a", "p")])
        assert [r.id for r in store.runs(status="incomplete", limit=1)] == ["r-dead"]  # below a live run
        assert [r.id for r in store.runs(status="running", limit=1)] == ["r-alive"]
        assert [r.id for r in store.runs(status="complete", limit=1)] == ["r-done"]
        assert [r.id for r in store.runs(limit=2)] == ["r-done", "r-alive"]
        assert [p.run_status for p in store.case_history("support", "a", "support-v1")] == ["complete", "running",
                                                                                             "incomplete"]
