"""Stores with runs in several environments, for the environment tests (store and CLI)."""

from __future__ import annotations

from goldband.store import RunRow, Store, StoredVerdict
from goldband.store.series import run_points
from goldband.store.writer import finish_run, insert_run, insert_trials, insert_verdict
from storefixtures import GS_HASH, TARGET_HASH, CaseSpec, scored, verdict_of


def env_run(store: Store, run_id: str, day: int, environment: str | None, status: str = "PASS", *,
            kind: str = "ci") -> RunRow:
    """A finished run of one case in ``environment``, with its verdict and series points."""
    spec = CaseSpec("refund-window", "ppppp" if status == "PASS" else "ppfff", status)
    run = RunRow(run_id, kind, "running", f"2026-11-{day:02d}T12:00:00.000+00:00", host="elsewhere", pid=1,
                 mode="replay", environment=environment)
    with store.transaction() as conn:
        insert_run(conn, run)
        insert_trials(conn, run_id, spec.goldenset, scored(spec))
        insert_verdict(conn, run_id, StoredVerdict(spec.goldenset, spec.case_id, spec.target, None, GS_HASH,
                                                   TARGET_HASH, verdict_of(spec)))
        finish_run(conn, run_id, status="complete", exit_status=0)
    row = store.run(run_id)
    assert row is not None
    store.replace_run_series(run_id, run_points(store, row))
    return row
