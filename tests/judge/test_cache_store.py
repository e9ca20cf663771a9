"""The judge cache in the store, on each backend: ``goldband cache clear`` forgets the store's judgements
whether the store is an SQLite file or a PostgreSQL database (a URL is no file, and must not be skipped as a
missing one), as a real process; a run's cache itself: tests/judge/test_runtime.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from goldband.store import open_store


def goldband(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLDBAND_", "CI", "GITHUB_"))}
    return subprocess.run([sys.executable, "-m", "goldband", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_cache_clear_forgets_the_stores_judgements_on_either_backend(tmp_path: Path, store_at: str) -> None:
    (tmp_path / "goldband.yaml").write_text("targets: {}\n")
    with open_store(store_at) as store:
        for key in ("a", "b"):
            store.judge_cache_put(key, {"reply": key})
    dry = goldband(tmp_path, "cache", "clear", "--no-samples", "--dry-run", "--store", store_at)
    assert dry.returncode == 0 and dry.stdout.splitlines() == ["would remove 2 cached judgement(s)"], dry.stderr
    done = goldband(tmp_path, "cache", "clear", "--no-samples", "--store", store_at)
    assert done.returncode == 0 and done.stdout.splitlines() == ["removed 2 cached judgement(s)"], done.stderr
    with open_store(store_at, create=False) as store:
        assert store.judge_cache_get("a") is None
        assert store.conn.execute("SELECT COUNT(*) FROM judge_cache").fetchone()[0] == 0
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("postgres")]  # a URL never became a folder
