"""``goldband store info | merge | prune | backup`` as a user runs them (real subprocesses, real store files)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from damagekit import digest
from goldband.store import open_store, schema
from storefixtures import CaseSpec, demo_cases, demo_store, write_run


def goldband(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "goldband", "store", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    demo_store(tmp_path / "store.db", runs=2).close()
    return tmp_path / "store.db"


def test_info_shows_backend_schema_runs_and_table_sizes(store_path: Path) -> None:
    out = goldband("info", "--store", store_path, cwd=store_path.parent)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"store   {store_path}: ") and lines[1].startswith("backend sqlite 3.")
    assert lines[1].endswith("(WAL journal)")
    assert f"schema  version {len(schema.names())} ({', '.join(schema.names())})" in lines
    assert "runs    2 from 2026-11-01T12:00:00.000+00:00 to 2026-11-02T12:00:00.000+00:00" in lines
    verdicts = next(line.split() for line in lines if line.startswith("verdicts "))
    assert verdicts[1] == "10" and verdicts[3] in ("kB", "MB") and float(verdicts[2]) > 0


def test_merge_prints_counts_and_run_hashes_then_adds_nothing(store_path: Path, tmp_path: Path) -> None:
    other = open_store(tmp_path / "shard.db")
    write_run(other, "shard-run", "2026-11-05T12:00:00.000+00:00", demo_cases())
    other.close()
    first = goldband("merge", store_path, tmp_path / "shard.db", "--into", "merged.db", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "merged 2 stores into merged.db" in first.stdout
    assert any(line.split()[:3] == ["runs", "3", "3"] for line in first.stdout.splitlines())
    assert sum(line.startswith("run ") and ": sha256:" in line for line in first.stdout.splitlines()) == 3
    again = goldband("merge", "shard.db", "--into", "merged.db", cwd=tmp_path)
    assert again.returncode == 0 and ": 0 rows added" in again.stdout


def test_merge_conflict_exits_2_and_writes_nothing(store_path: Path, tmp_path: Path) -> None:
    other = open_store(tmp_path / "other.db")
    write_run(other, "20261101-120000-0001", "2026-11-01T12:00:00.000+00:00",
              [CaseSpec("refund-window", "ppppp", output="No refunds, ever.")])
    other.close()
    before = digest(store_path)
    out = goldband("merge", "other.db", "--into", store_path, cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert "conflicting content: run 20261101-120000-0001" in out.stderr and "refund-window" in out.stderr
    assert "Traceback" not in out.stderr
    assert digest(store_path) == before


def test_prune_dry_run_then_prune(store_path: Path) -> None:
    before = digest(store_path)
    dry = goldband("prune", "--older-than", "1d", "--dry-run", "--store", store_path, cwd=store_path.parent)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would prune 2 runs older than 1d") and digest(store_path) == before
    done = goldband("prune", "--older-than", "1d", "--keep-baselines", "--vacuum", "--store", store_path,
                    cwd=store_path.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pruned 1 run older than 1d (kept 1 baseline run(s): 20261102-120000-0002)")
    with sqlite3.connect(store_path) as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM runs")] == ["20261102-120000-0002"]
    conn.close()


def test_prune_with_a_bad_age_is_a_usage_error(store_path: Path) -> None:
    before = digest(store_path)
    out = goldband("prune", "--older-than", "6m", "--store", store_path, cwd=store_path.parent)
    assert out.returncode == 2 and "--older-than" in out.stderr and "180d" in out.stderr
    assert digest(store_path) == before


def test_backup_copies_a_store_that_opens(store_path: Path, tmp_path: Path) -> None:
    out = goldband("backup", tmp_path / "copy.db", "--store", store_path, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    with open_store(tmp_path / "copy.db", create=False, check=True) as copy, open_store(store_path) as original:
        assert copy.table_counts() == original.table_counts() and copy.table_counts()["trials"] > 0
    again = goldband("backup", tmp_path / "copy.db", "--store", store_path, cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
