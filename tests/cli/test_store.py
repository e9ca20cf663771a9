"""``goldband store ...`` and ``goldband cache clear`` (click's runner)."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from damagekit import damage_store, digest
from goldband.cli import main
from goldband.store import open_store, schema
from storefixtures import demo_cases, demo_store, write_run


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    demo_store(tmp_path / "store.db", runs=2).close()
    return tmp_path / "store.db"


@pytest.fixture
def stored(store_at: str) -> str:
    """The demo store's two runs on either backend."""
    demo_store(store_at, runs=2).close()
    return store_at


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_info_shows_version_and_row_counts(stored: str) -> None:
    code, out = invoke("store", "info", "--store", stored)
    assert code == 0
    assert f"schema  version {len(schema.names())} ({', '.join(schema.names())})" in out
    assert any(line.split()[:2] == ["verdicts", "10"] for line in out.splitlines())


def test_info_shows_retention_and_prune_takes_what_it_counted(store_at: str) -> None:
    """On both backends: info counts the runs older than 180d; prune (dry run, then for real, then --vacuum)
    removes exactly those; info then counts none."""
    with open_store(store_at) as store:
        write_run(store, "20250101-120000-0001", "2025-01-01T12:00:00.000+00:00", demo_cases())
        write_run(store, "20250102-120000-0002", "2025-01-02T12:00:00.000+00:00", demo_cases(), branch="release")
        write_run(store, "recent", datetime.now(UTC).isoformat(timespec="milliseconds"), demo_cases())
    code, out = invoke("store", "info", "--store", store_at)
    assert code == 0 and out.splitlines()[4] == (
        "retain  everything (no retention set); 2 of 3 runs are older than 180d: "
        "`goldband store prune --older-than 180d --dry-run` lists what a prune removes")
    code, dry = invoke("store", "prune", "--older-than", "180d", "--keep-baselines", "--dry-run", "--store", store_at)
    assert code == 0 and dry.splitlines()[:2] == [
        "would prune 1 run older than 180d (kept 1 baseline run(s): 20250102-120000-0002)", "  20250101-120000-0001"]
    code, out = invoke("store", "prune", "--older-than", "180d", "--keep-baselines", "--vacuum", "--store", store_at)
    lines = out.splitlines()
    assert code == 0 and lines[0] == dry.splitlines()[0].replace("would prune", "pruned")
    assert lines[2:-1] == dry.splitlines()[2:]  # the same rows per table as the dry run said
    assert "VACUUM (ANALYZE)" in lines[-1] if store_at.startswith("postgresql") else " -> " in lines[-1]
    with open_store(store_at) as store:
        assert [r.id for r in store.runs()] == ["recent", "20250102-120000-0002"]
    code, out = invoke("store", "info", "--store", store_at)
    assert "1 of 2 runs is older than 180d" in out.splitlines()[4]


def test_check_reports_ok(store_path: Path) -> None:
    assert invoke("store", "check", "--store", str(store_path)) == (0, f"{store_path}: ok\n")


def test_migrate_upgrades_an_older_store(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path, isolation_level=None), execute_plugins=False)
    schema.MIGRATIONS.apply(db, stop_before="0002_judge_cache")
    db.close()
    pending = schema.names()[1:]
    assert invoke("store", "migrate", "--dry-run", "--store", str(path)) == (
        0, "".join(f"would apply {name}\n" for name in pending))
    code, out = invoke("store", "migrate", "--store", str(path))
    assert code == 0 and out.splitlines() == [*(f"applied {name}" for name in pending),
                                              f"{path}: schema version {len(schema.names())}"]
    assert invoke("store", "migrate", "--store", str(path))[1].endswith("(up to date)\n")


SIZES = re.compile(r"([\d.]+) (kB|MB) \(main ([\d.]+) \2 \+ WAL ([\d.]+) \2(?: \+ shm ([\d.]+) \2)?\)")


def test_vacuum_keeps_the_data_and_reports_main_file_plus_wal_on_both_sides(store_path: Path) -> None:
    other = sqlite3.connect(store_path, isolation_level=None)  # another (idle) connection keeps the WAL on disk
    other.execute("PRAGMA wal_autocheckpoint=0")
    other.execute("CREATE TABLE scratch (x BLOB)")
    other.executemany("INSERT INTO scratch VALUES (?)", [(b"x" * 4000,) for _ in range(500)])  # 2 MB ...
    other.execute("DROP TABLE scratch")  # ... freed, still in the WAL and the main file's free pages
    wal_before = Path(f"{store_path}-wal").stat().st_size
    try:
        code, out = invoke("store", "vacuum", "--store", str(store_path))
        main_after = store_path.stat().st_size
        wal_after = Path(f"{store_path}-wal").stat().st_size
    finally:
        other.close()
    assert code == 0, out
    before, after = (m.groups() for m in SIZES.finditer(out))
    assert out.startswith(f"{store_path}: ") and " -> " in out and before[1] == after[1]  # one unit on the line
    scale = {"kB": 1e3, "MB": 1e6}[before[1]]
    for total, _, main_file, wal, shm in (before, after):
        assert float(total) == pytest.approx(float(main_file) + float(wal) + float(shm or 0), abs=0.011)
    assert float(before[3]) == pytest.approx(wal_before / scale, abs=0.006) and wal_before > 2_000_000
    assert (float(after[2]), float(after[3])) == pytest.approx((main_after / scale, wal_after / scale), abs=0.006)
    assert wal_after == 0 and float(after[0]) < float(before[0]) - 1.9e6 / scale  # the 2 MB came back
    with open_store(store_path) as store:
        assert len(store.runs()) == 2
    code, out = invoke("store", "info", "--store", str(store_path))
    assert SIZES.search(out.splitlines()[0]), out


def test_export_jsonl_and_csv(stored: str, tmp_path: Path) -> None:
    code, out = invoke("store", "export", "--store", stored, "--out", str(tmp_path / "x"))
    assert code == 0 and f"wrote 48 rows to {tmp_path / 'x' / 'trials.jsonl'}" in out
    first = json.loads((tmp_path / "x" / "verdicts.jsonl").read_text().splitlines()[0])
    assert {"run_id", "status", "pass_rate", "details"} <= set(first)
    code, out = invoke("store", "export", "--store", stored, "--table", "verdicts", "--run", "20261102",
                       "--format", "csv", "--out", "-")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 5 and {r["run_id"] for r in rows} == {"20261102-120000-0002"}
    code, out = invoke("store", "export", "--store", stored, "--table", "scores", "--run", "20261101",
                       "--out", "-")
    assert len(out.splitlines()) == 38  # two scores per scored (not errored) trial of that run only


def test_export_rejects_unknown_tables(stored: str) -> None:
    code, out = invoke("store", "export", "--store", stored, "--table", "nope")
    assert code == 2 and "unknown table nope; expected one of:" in out
    code, out = invoke("store", "export", "--store", stored, "--out", "-")
    assert code == 2 and "add exactly one --table" in out


def test_cache_clear_removes_only_cache_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "p"
    cache = project / ".goldband" / "cache"
    (cache / "support").mkdir(parents=True)
    (cache / "support" / "support-v1.jsonl").write_text("{}\n")
    (cache / "keep.txt").write_text("not ours")
    (project / "cassettes").mkdir()
    (project / "cassettes" / "c.jsonl").write_text("{}\n")
    (project / "goldband.yaml").write_text("targets: {}\n")
    judge = sqlite3.connect(cache / "judge.sqlite")
    judge.execute("CREATE TABLE judgements (key TEXT PRIMARY KEY, entry TEXT)")
    judge.executemany("INSERT INTO judgements VALUES (?, '{}')", [("a",), ("b",)])
    judge.commit()
    judge.close()
    with open_store(project / ".goldband" / "store.db") as store:
        store.judge_cache_put("k", {"v": 1})
    monkeypatch.chdir(project)
    monkeypatch.delenv("GOLDBAND_STORE", raising=False)
    assert invoke("cache", "clear", "--dry-run")[1].splitlines() == [
        f"would remove 1 sample cache file(s) from {cache}", "would remove 3 cached judgement(s)"]
    assert (cache / "support" / "support-v1.jsonl").exists()
    code, out = invoke("cache", "clear")
    assert code == 0 and out.splitlines() == [f"removed 1 sample cache file(s) from {cache}",
                                              "removed 3 cached judgement(s)"]
    assert not (cache / "support").exists() and (cache / "keep.txt").exists()
    assert (project / "cassettes" / "c.jsonl").exists()


@pytest.mark.parametrize("off", ["off", "none", "false", "0"])
def test_a_store_turned_off_is_never_created_as_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        off: str) -> None:
    (tmp_path / "goldband.yaml").write_text(f"store: {off!r}\ntargets: {{}}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GOLDBAND_STORE", raising=False)
    result = CliRunner().invoke(main, ["history"])
    assert result.exit_code != 0
    assert "the store is turned off" in result.output and "fix: point --store" in result.output
    code, out = invoke("cache", "clear", "--judge")
    assert code == 0 and out.splitlines()[-1] == "removed 0 cached judgement(s)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["goldband.yaml"]  # no file named 'off'


def test_every_subcommand_has_help() -> None:
    import click

    def walk(group: click.Group, path: list[str]) -> list[list[str]]:
        found = []
        for name, command in group.commands.items():
            found.append([*path, name])
            if isinstance(command, click.Group):
                found += walk(command, [*path, name])
        return found

    for args in walk(main, []):
        result = CliRunner().invoke(main, [*args, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, (args, result.output)


def test_the_command_line_imports_light() -> None:
    """`goldband --help` loads no store, config or report library: the commands import them when they run."""
    code = ("import sys, goldband.cli; print([m for m in ('sqlite_utils', 'goldband.store', 'goldband.config.project', "
            "'pydantic', 'jinja2') if m in sys.modules])")
    # A fresh interpreter: in this process these modules are loaded already.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# a store damaged past its header (issue 17) ---------------------------------------------------------------


@pytest.fixture
def damaged(store_path: Path) -> Path:
    """The demo store with 4 KB of random bytes over the middle page of its trials."""
    damage_store(store_path)
    return store_path


def test_check_reports_damage_as_a_finding_and_writes_nothing(damaged: Path) -> None:
    before = digest(damaged)
    code, out = invoke("store", "check", "--store", str(damaged))
    assert code == 1, out
    assert out.startswith(f"Error: {damaged}: the store is damaged: SQLite's integrity check found: ")
    assert "fix: goldband leaves it untouched; restore it from a backup" in out
    assert digest(damaged) == before


@pytest.mark.parametrize("command", [("store", "vacuum"), ("store", "migrate"), ("store", "migrate", "--dry-run")])
def test_vacuum_and_migrate_refuse_a_damaged_store_and_write_nothing(damaged: Path, command: tuple[str, ...]) -> None:
    before = digest(damaged)
    code, out = invoke(*command, "--store", str(damaged))
    assert code == 2, out
    assert out.startswith(f"Error: {damaged}: the store is damaged or not a goldband store: SQLite's quick check "
                          "found: ") and f"mv {damaged} {damaged}.bad" in out
    assert "up to date" not in out
    assert digest(damaged) == before


@pytest.mark.parametrize(("command", "btree"), [(("history",), "runs"), (("history", "--json"), "runs"),
                                                (("show", "latest"), "runs"), (("report", "latest"), "runs"),
                                                (("store", "info"), "_sqlite_migrations")])
def test_reading_a_damaged_page_is_one_error_never_a_traceback(store_path: Path, tmp_path: Path,
                                                              command: tuple[str, ...], btree: str) -> None:
    damage_store(store_path, btree=btree)  # a page the command reads
    before = digest(store_path)
    out_dir = ["--out", str(tmp_path / "reports")] if command[0] == "report" else []
    code, out = invoke(*command, *out_dir, "--store", str(store_path))  # catch_exceptions=False: a traceback raises
    assert code == 2, out
    assert out.startswith(f"Error: {store_path}: the store is damaged or not a goldband store: ")
    assert "fix: goldband leaves it untouched" in out
    assert digest(store_path) == before
    assert not (tmp_path / "reports").exists()


def test_export_saves_what_still_reads_from_a_damaged_store(damaged: Path, tmp_path: Path) -> None:
    before = digest(damaged)
    code, out = invoke("store", "export", "--store", str(damaged), "--table", "verdicts", "--out", str(tmp_path / "x"))
    assert code == 0 and "wrote 10 rows" in out
    code, out = invoke("store", "export", "--store", str(damaged), "--table", "trials", "--out", str(tmp_path / "x"))
    assert code == 2 and "the store is damaged or not a goldband store" in out
    assert digest(damaged) == before
