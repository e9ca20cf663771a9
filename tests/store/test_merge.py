"""``goldband.store.maintenance.merge``: shard stores fold into one, with no duplicates, or nothing is written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from damagekit import digest
from goldband.errors import MergeConflict, StoreError
from goldband.store import open_store, schema
from goldband.store.maintenance import MERGED, merge, run_hash
from storefixtures import CaseSpec, demo_cases, write_run

DAY1, DAY2 = "2026-11-01T12:00:00.000+00:00", "2026-11-02T12:00:00.000+00:00"


def build(path: Path, *runs: tuple[str, str, list[CaseSpec]]) -> Path:
    store = open_store(path)
    for run_id, started, cases in runs:
        write_run(store, run_id, started, cases)
    store.close()
    return path


@pytest.fixture
def shards(tmp_path: Path) -> tuple[Path, Path]:
    """Run r1 split over two shards (3 cases + 2 cases), and a whole run r2 in the second."""
    cases = demo_cases()
    a = build(tmp_path / "a.db", ("r1", DAY1, cases[:3]))
    b = build(tmp_path / "b.db", ("r1", DAY1, cases[3:]), ("r2", DAY2, cases))
    return a, b


WRITTEN_AT = ("created_at", "first_seen", "updated_at", "finished_at", "logged_at")


def content(path: Path, drop: tuple[str, ...] = ()) -> dict[str, list[tuple[object, ...]]]:
    """Every merged table's rows without autoincrement ids (a score names its trial by the trial's key) and
    without the ``drop`` columns."""
    conn = sqlite3.connect(path)
    try:
        out: dict[str, list[tuple[object, ...]]] = {}
        for table in sorted(MERGED):
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")
                       if r[1] not in ("id", "trial_id", *drop)]
            if table in ("scores", "trial_turns"):
                sql = (f"SELECT t.run_id, t.goldenset, t.case_id, t.target, t.sample, "
                       f"{', '.join('x.' + c for c in columns)} FROM {table} x JOIN trials t ON t.id = x.trial_id")
            else:
                sql = f"SELECT {', '.join(columns)} FROM {table}"
            out[table] = sorted(conn.execute(sql).fetchall(), key=repr)
        return out
    finally:
        conn.close()


def series(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return sorted(conn.execute("SELECT source, model, metric, labels_key, time, run_id, value FROM series_points"))
    finally:
        conn.close()


def test_merged_shards_equal_one_store_with_both_runs(shards: tuple[Path, Path], tmp_path: Path) -> None:
    whole = build(tmp_path / "whole.db", ("r1", DAY1, demo_cases()), ("r2", DAY2, demo_cases()))
    report = merge(list(shards), tmp_path / "merged.db")
    drop = (*WRITTEN_AT, "line")  # storefixtures numbers a case's line within the cases it was given
    merged, expected = content(tmp_path / "merged.db", drop), content(whole, drop)
    for table in ("trials", "scores", "verdicts", "run_items", "cases", "run_goldensets", "run_targets"):
        assert merged[table] == expected[table], table
    assert series(tmp_path / "merged.db") == series(whole)  # r1's points are over both shards' trials
    assert report.counts["trials"] == 2 * sum(len(c.outcomes) for c in demo_cases())
    with sqlite3.connect(whole) as conn:
        assert report.run_hashes == {r: run_hash(conn, r) for r in ("r1", "r2")}


def test_merging_again_adds_nothing(shards: tuple[Path, Path], tmp_path: Path) -> None:
    target = tmp_path / "merged.db"
    merge(list(shards), target)
    before = content(target)
    report = merge([*shards, shards[0]], target)
    assert sum(report.added.values()) == 0
    assert content(target) == before


def test_order_does_not_matter(shards: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = shards
    merge([a, b], tmp_path / "ab.db")
    merge([b], tmp_path / "b-then-a.db")
    merge([a], tmp_path / "b-then-a.db")
    assert content(tmp_path / "ab.db") == content(tmp_path / "b-then-a.db")


def test_conflicting_trial_is_refused_and_nothing_written(shards: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = shards
    other = build(tmp_path / "other.db", ("r1", DAY1, [CaseSpec("refund-window", "ppppp", output="Never.")]))
    target = tmp_path / "merged.db"
    merge([a], target)
    before = digest(target)
    with pytest.raises(MergeConflict) as caught:
        merge([other], target)
    assert "run r1" in caught.value.what and "case_id='refund-window'" in caught.value.what
    assert "output" in caught.value.what and caught.value.where == str(other)
    assert digest(target) == before
    with pytest.raises(MergeConflict):
        merge([a, other], tmp_path / "new.db")
    assert not list(tmp_path.glob("*new.db*"))  # a new target is never left half-built


def test_older_schema_is_refused_naming_migrate(shards: tuple[Path, Path], tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    db = Database(sqlite3.connect(old, isolation_level=None), execute_plugins=False)
    schema.MIGRATIONS.apply(db, stop_before="0005_rendered_messages")
    db.close()
    target = tmp_path / "merged.db"
    merge([shards[0]], target)
    before = digest(target)
    with pytest.raises(StoreError) as caught:
        merge([shards[1], old], target)
    assert caught.value.where == str(old) and "schema version 4 is older" in caught.value.what
    assert "goldband store migrate" in (caught.value.fix or "")
    assert digest(target) == before


def test_non_goldband_database_is_refused(shards: tuple[Path, Path], tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    with pytest.raises(StoreError) as caught:
        merge([shards[0], foreign], tmp_path / "merged.db")
    assert caught.value.where == str(foreign) and "not a goldband store" in caught.value.what
    assert not (tmp_path / "merged.db").exists()


def test_conflicting_score_names_its_run_and_case(shards: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = shards
    copy = tmp_path / "copy.db"
    merge([a], copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE scores SET score = 0.5 WHERE idx = 1 AND trial_id = "
                     "(SELECT id FROM trials WHERE case_id = 'flaky' AND sample = 2)")
    conn.close()
    with pytest.raises(MergeConflict) as caught:
        merge([a, copy], tmp_path / "merged.db")
    assert caught.value.what.startswith("conflicting content: run r1: scores row (idx=1, case_id='flaky', sample=2)")
    assert "differs in score" in caught.value.what
