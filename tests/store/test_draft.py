"""Draft runs in the store (migration 0009): flagged with the golden sets that were drafts, and never read
as a baseline, as a case's history, or as series points."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldband.compare.baseline import load_baseline
from goldband.errors import ConfigError
from goldband.store import Store, open_store, schema
from goldband.store.series import run_points, stored_points
from goldband.store.writer import mark_draft
from storefixtures import CaseSpec, store_before, write_run

CASES = [CaseSpec("refund-window", "ppppp"), CaseSpec("order-id", "pppp", goldenset="extract",
                                                      target="extract-v1")]


class Handle:
    """The session's store handle as ``load_baseline`` sees it (``goldband.session.storage.StoreHandle``)."""

    def __init__(self, store: Store) -> None:
        self.path: Path | None = store.path
        self.store = store

    def existing(self) -> Store | None:
        return self.store


def runs_with_a_draft(path: Path | str) -> Store:
    """A counted run, then a later one of the same cases flagged draft (its golden set 'support' changed)."""
    store = open_store(path)
    write_run(store, "20261101-120000-0001", "2026-11-01T12:00:00.000+00:00", CASES)
    write_run(store, "20261102-120000-0002", "2026-11-02T12:00:00.000+00:00", CASES)
    with store.transaction() as conn:
        mark_draft(conn, "20261102-120000-0002", "support")
    return store


def test_the_migration_is_0009_and_flags_run_and_golden_set(tmp_path: Path, store_at: str) -> None:
    assert "0009_draft_runs" in schema.names()
    with runs_with_a_draft(store_at) as store:
        draft, counted = store.run("20261102-120000-0002"), store.run("20261101-120000-0001")
        assert draft is not None and counted is not None and draft.draft and not counted.draft
        assert store.draft_goldensets(draft.id) == ["support"]  # 'extract' matched its lock
        assert store.draft_goldensets(counted.id) == []


def test_an_older_store_migrates_and_its_runs_are_not_drafts(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = store_before(path, "0009_draft_runs")
    db.conn.execute("INSERT INTO runs (id, kind, status, started_at) VALUES ('r1', 'ci', 'complete', 'x')")
    db.close()
    with open_store(path) as store:
        assert store.schema_version == len(schema.names())
        (run,) = store.runs()
        assert run.id == "r1" and run.draft is False
        assert store.latest_run() == run


def test_latest_and_case_history_skip_draft_runs(tmp_path: Path, store_at: str) -> None:
    with runs_with_a_draft(store_at) as store:
        assert [r.id for r in store.runs()] == ["20261102-120000-0002", "20261101-120000-0001"]  # listed
        assert [r.id for r in store.runs(draft=True)] == ["20261102-120000-0002"]
        assert [r.id for r in store.runs(draft=False)] == ["20261101-120000-0001"]
        found = store.latest_run()
        assert found is not None and found.id == "20261101-120000-0001"
        history = store.case_history("support", "refund-window", "support-v1")
        assert [p.run_id for p in history] == ["20261101-120000-0001"]
        assert store.resolve_run("latest").id == "20261102-120000-0002"  # still shown: `goldband report latest`


def test_a_draft_run_is_never_a_baseline(tmp_path: Path, store_at: str) -> None:
    with runs_with_a_draft(store_at) as store:
        handle = Handle(store)
        for spec in ("latest", "latest:main", "latest@ci", "latest:main@ci"):
            _, label = load_baseline(spec, root=tmp_path, store=handle)
            assert label == "run 20261101-120000-0001 (main)"
        with pytest.raises(ConfigError) as caught:
            load_baseline("20261102", root=tmp_path, store=handle)
        assert str(caught.value).startswith("--goldband-baseline: run 20261102-120000-0002 is a draft run")
        with store.transaction() as conn:
            mark_draft(conn, "20261101-120000-0001", "extract")
        with pytest.raises(ConfigError, match="no complete run (in environment 'default' )?in the store to use as "
                                              r"baseline \(draft runs never are\)"):
            load_baseline("latest", root=tmp_path, store=handle)


def test_a_draft_runs_points_are_computed_but_not_stored(tmp_path: Path, store_at: str) -> None:
    with runs_with_a_draft(store_at) as store:
        draft, counted = store.run("20261102-120000-0002"), store.run("20261101-120000-0001")
        assert draft is not None and counted is not None
        points = run_points(store, draft)
        assert points and stored_points(draft, points) == []
        assert stored_points(counted, run_points(store, counted)) == run_points(store, counted)
