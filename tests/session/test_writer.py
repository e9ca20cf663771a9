"""The run's background writer joins a commit's trial batches into one write: the same rows, fewer statements."""

from __future__ import annotations

import functools
from typing import Any

from goldband.session.writer import TrialWrite, merged
from goldband.store import Store, open_store
from goldband.store.writer import TrialBatch, insert_drift_event, insert_trial_batches
from storefixtures import CaseSpec, scored, write_run

CASES = [CaseSpec("a", "ppf"), CaseSpec("b", "pe"), CaseSpec("c", "fff", goldenset="extract", target="extract-v1")]


def trials_op(run_id: str, spec: CaseSpec, messages_hash: str | None = None) -> TrialWrite:
    return TrialWrite(run_id, TrialBatch(spec.goldenset, scored(spec), None, messages_hash))


def stored(store: Store, run_id: str) -> list[tuple[Any, ...]]:
    """Every trial of the run with its scores, without ids (which differ between two stores)."""
    trials = store.conn.execute(
        "SELECT t.goldenset, t.case_id, t.target, t.sample, t.output, t.error, t.messages_hash, "
        "s.idx, s.check_name, s.outcome, s.score FROM trials t LEFT JOIN scores s ON s.trial_id = t.id "
        "WHERE t.run_id = ? ORDER BY t.goldenset, t.case_id, t.sample, s.idx", [run_id]).fetchall()
    return [tuple(row) for row in trials]


def test_consecutive_trial_writes_of_one_run_are_joined_and_others_keep_their_place() -> None:
    a, b, c = (trials_op("r1", spec) for spec in CASES)
    other = functools.partial(insert_drift_event, event=None)
    r2 = trials_op("r2", CASES[0])
    ops = merged([a, b, other, c, r2])
    assert ops[1:] == [other, c, r2]
    joined = ops[0]
    assert isinstance(joined, functools.partial) and joined.func is insert_trial_batches
    assert [batch.goldenset for batch in joined.keywords["batches"]] == ["support", "support"]
    assert merged([a]) == [a] and merged([]) == []


def test_joined_writes_store_what_one_write_per_batch_stores(store_at: str, tmp_path: Any) -> None:
    with open_store(store_at) as one_by_one, open_store(tmp_path / "joined.db") as joined:
        for store in (one_by_one, joined):
            write_run(store, "r1", "2026-11-01T00:00:00.000+00:00", [CaseSpec("z", "p")], status="running")
        ops = [trials_op("r1", spec, messages_hash=None) for spec in CASES]
        with one_by_one.transaction() as conn:
            for op in ops:
                op(conn)
        with joined.transaction() as conn:
            (write,) = merged(ops)
            assert write(conn) == 8  # trials written
            assert write(conn) == 0  # a sample already stored is skipped, as by insert_trials
        assert stored(joined, "r1") == stored(one_by_one, "r1")
        assert len(stored(joined, "r1")) == 2 + 6 + 3 + 6  # z; a; b (its error trial has no score); c
