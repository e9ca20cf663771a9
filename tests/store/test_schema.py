"""The store's schema and its guard rails: migrations, version checks, and files we must not touch."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlite_utils import Database

from goldband.errors import StoreError
from goldband.store import open_store, schema
from goldband.store.connection import applied
from goldband.store.writer import finish_run
from goldband.watch.scope import Scope

EXPECTED_TABLES = {
    "runs", "run_items", "goldensets", "cases", "prompts", "targets", "rubrics", "judges", "run_goldensets",
    "run_targets", "run_rubrics", "trials", "scores", "verdicts", "series_points", "drift_events", "judge_cache",
    "rendered_messages",
}
LATEST = len(schema.names())  # every test below holds for whatever migrations come after 0002


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_new_store_has_every_table_and_the_latest_version(tmp_path: Path) -> None:
    with open_store(tmp_path / "deep" / "dir" / "store.db") as store:
        assert set(store.db.table_names()) >= EXPECTED_TABLES
        assert store.schema_version == LATEST >= 2
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert "run_summary" in store.db.view_names()


def test_migrations_are_named_and_recorded_in_order(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db") as store:
        assert applied(store.db)[:2] == ["0001_initial", "0002_judge_cache"]
        assert applied(store.db) == schema.names()


def old_store(path: Path, version: int, *rows: str) -> Path:
    """A store as goldband wrote it at schema ``version`` (its first ``version`` migrations), with ``rows`` (SQL)."""
    db = Database(sqlite3.connect(path, isolation_level=None), execute_plugins=False)
    schema.MIGRATIONS.apply(db, stop_before=schema.names()[version])
    db.conn.execute(f"PRAGMA user_version = {version}")
    for row in rows:
        db.conn.execute(row)
    db.close()
    return path


@pytest.mark.parametrize("version", range(1, LATEST))
def test_upgrade_from_every_older_version_keeps_the_data(tmp_path: Path, version: int) -> None:
    path = old_store(tmp_path / "old.db", version,
                     "INSERT INTO runs (id, kind, status, started_at) VALUES ('r1', 'ci', 'complete', 'now')")
    with open_store(path) as store:
        assert applied(store.db) == schema.names() and store.schema_version == LATEST
        assert store.migrations == schema.names()
        assert store.run("r1") is not None
        store.judge_cache_put("k", {"score": 4})  # the tables added since work
        assert store.judge_cache_get("k") == {"score": 4}


def test_trials_stored_before_rendered_messages_read_back_without_them(tmp_path: Path) -> None:
    path = old_store(tmp_path / "old.db", schema.names().index("0005_rendered_messages"),
                     "INSERT INTO runs (id, kind, status, started_at) VALUES ('r1', 'ci', 'complete', 'now')",
                     "INSERT INTO trials (run_id, goldenset, case_id, target, sample, outcome, output, cached) "
                     "VALUES ('r1', 's', 'c', 't', 0, 'pass', 'old output', 0)")
    with open_store(path) as store:
        assert "messages_hash" in store.db.table("trials").columns_dict
        assert store.renderings("r1") == {}
        (trial,) = store.scored_trials("r1")[("s", "c", "t")]
        assert trial.trial.output == "old output"


def test_runs_finished_before_run_problems_read_back_without_any(tmp_path: Path) -> None:
    path = old_store(tmp_path / "old.db", schema.names().index("0006_run_problems"),
                     "INSERT INTO runs (id, kind, status, started_at, exit_status) "
                     "VALUES ('r1', 'ci', 'incomplete', 'now', 1)")
    with open_store(path) as store:
        assert "problems" in store.db.table("runs").columns_dict
        run = store.run("r1")
        assert run is not None and (run.status, run.problems) == ("incomplete", [])
        with store.transaction() as conn:
            finish_run(conn, "r1", status="incomplete", exit_status=3, problems=["2 store writes lost"])
        assert store.run("r1").problems == ["2 store writes lost"]  # type: ignore[union-attr]
        with store.transaction() as conn:
            finish_run(conn, "r1", status="complete", exit_status=0)
        assert store.conn.execute("SELECT problems FROM runs").fetchone()[0] is None


def test_predictions_logged_before_compact_features_read_back_and_new_ones_are_compact(tmp_path: Path) -> None:
    from goldband.watch import db as watch_db
    from goldband.watch.records import PredictionRow

    path = old_store(tmp_path / "old.db", schema.names().index("0007_compact_features"),
                     "INSERT INTO monitor_predictions (model, version, prediction_id, time, features, prediction) "
                     "VALUES ('m', '1', 'old', '2026-01-01T00:00:00.000Z', '{\"age\":30,\"plan\":\"pro\"}', "
                     "'\"yes\"')")
    with open_store(path) as store:
        assert "layout" in store.db.table("monitor_predictions").columns_dict
        with store.transaction() as conn:
            watch_db.insert_predictions(conn, [PredictionRow("m", "1", "new", "2026-01-01T00:00:01.000Z",
                                                             {"age": 31, "plan": None}, "no", None, None)])
        rows = list(watch_db.predictions_after(store.conn, Scope("m", "1"), ("", 0)))
        assert [(r.prediction_id, r.features) for r in rows] == [("old", {"age": 30, "plan": "pro"}),
                                                                  ("new", {"age": 31, "plan": None})]
        stored = store.conn.execute("SELECT features, layout FROM monitor_predictions ORDER BY id").fetchall()
        assert stored[0] == ('{"age":30,"plan":"pro"}', None) and stored[1][0] == "[31,null]"
        names = store.conn.execute("SELECT names FROM monitor_layouts WHERE id = ?", [stored[1][1]]).fetchone()[0]
        assert names == '["age","plan"]'


def test_reopening_applies_nothing(tmp_path: Path) -> None:
    open_store(tmp_path / "s.db").close()
    with open_store(tmp_path / "s.db") as store:
        rows = store.conn.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0]
        assert rows == LATEST


def test_a_failing_migration_leaves_no_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.db"
    open_store(path).close()

    def broken(db: Database) -> None:
        db.table("half_done").create({"id": int}, pk="id")
        raise RuntimeError("migration bug")

    steps = list(schema._STEPS)
    monkeypatch.setattr(schema, "_STEPS", [*steps, ("9999_broken", broken)])
    schema.migrations.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="migration bug"):
            open_store(path)
        monkeypatch.setattr(schema, "_STEPS", steps)
        schema.migrations.cache_clear()
        with open_store(path) as store:
            assert "half_done" not in store.db.table_names()
            assert store.schema_version == LATEST
    finally:
        schema.migrations.cache_clear()


def test_concurrent_openers_migrate_once(tmp_path: Path) -> None:
    path, errors = tmp_path / "s.db", []

    def opener() -> None:
        try:
            open_store(path).close()
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_store(path) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0] == LATEST


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with open_store(path) as store:
        store.conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                           "VALUES ('goldband', '9999_from_the_future', 'later')")
        store.conn.execute(f"PRAGMA user_version = {LATEST + 1}")
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = digest(path)
    with pytest.raises(StoreError) as info:
        open_store(path)
    message = str(info.value)
    assert f"schema version {LATEST + 1} is newer than this goldband" in message
    assert "9999_from_the_future" in message and "pip install -U goldband" in message
    assert digest(path) == before


def test_a_corrupt_file_is_reported_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"this is not a database at all\n" * 100)
    before = digest(path)
    with pytest.raises(StoreError) as info:
        open_store(path)
    assert "damaged or not a goldband store" in str(info.value)
    assert f"mv {path} {path}.bad" in str(info.value)
    assert digest(path) == before


def test_a_damaged_database_page_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    open_store(path).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page, header intact
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged or not a goldband store"):
        open_store(path)


def test_someone_elses_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(StoreError, match=r"other tables \(customers\)"):
        open_store(path)
    assert digest(path) == before


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.touch()
    with open_store(path) as store:
        assert store.schema_version == LATEST


def test_unwritable_and_missing_paths_are_clear_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the store's directory"):
        open_store(blocker / "store.db")
    with pytest.raises(StoreError, match="the store path is a directory"):
        open_store(tmp_path)
    with pytest.raises(StoreError, match="no store here yet"):
        open_store(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_a_locked_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    open_store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with open_store(path, timeout_s=0.2) as store, pytest.raises(StoreError) as info, store.transaction():
            pass
        assert "locked by another process" in str(info.value)
        assert "GOLDBAND_STORE_TIMEOUT" in str(info.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def documented_columns() -> dict[str, set[str]]:
    """Table name -> columns, from the '### `table`' sections of docs/store.md."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "store.md").read_text(encoding="utf-8")
    found: dict[str, set[str]] = {}
    for section in re.split(r"\n### ", text)[1:]:
        names = re.findall(r"`([a-z0-9_]+)`", section.splitlines()[0])
        columns = set(re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.M))
        for name in names:
            found[name] = columns
    return found


def test_docs_describe_every_table_and_column(tmp_path: Path) -> None:
    docs = documented_columns()
    with open_store(tmp_path / "s.db") as store:
        for table in store.db.tables:
            if table.name.startswith("_"):
                continue
            assert table.name in docs, f"docs/store.md has no section for table {table.name}"
            missing = {c.name for c in table.columns} - docs[table.name]
            assert not missing, f"docs/store.md does not describe {table.name}: {sorted(missing)}"
