"""The session's store is checked for damage once, before any call (issue 17): pytest, xdist, ``goldband run``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from damagekit import damage_store, digest
from goldband.errors import StoreError
from goldband.session.storage import StoreHandle
from goldband.store import open_store
from storefixtures import demo_store
from tests.session.test_recorder import goldenset, make_project, run, run_xdist, store_of


@pytest.fixture
def damaged(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project whose store, written by a real run, has 4 KB of random bytes over a middle page of its trials."""
    make_project(pytester, monkeypatch, goldenset(40, 3))
    run(pytester).assert_outcomes(passed=40)
    run(pytester).assert_outcomes(passed=40)
    damage_store(store_of(pytester))
    monkeypatch.setenv("CALL_LOG", str(pytester.path / "calls.log"))
    return pytester


@pytest.mark.parametrize("xdist", [False, True])
def test_a_store_damaged_past_its_header_stops_the_run_before_any_call(damaged: pytest.Pytester,
                                                                        xdist: bool) -> None:
    path = store_of(damaged)
    before = digest(path)
    result = run_xdist(damaged, "-n", "2") if xdist else run(damaged)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    err = result.stderr.str()
    assert "the store is damaged or not a goldband store: SQLite's quick check found:" in err and "fix:" in err
    assert "Traceback" not in err and "INTERNALERROR" not in result.stdout.str() + err
    assert not (damaged.path / "calls.log").exists()  # no call was made
    assert digest(path) == before  # and nothing was written into the damaged file


def test_goldband_run_refuses_a_damaged_store_with_a_usage_error(damaged: pytest.Pytester) -> None:
    path = store_of(damaged)
    before = digest(path)
    env = {**os.environ, "PYTHONPATH": str(damaged.path)}
    out = subprocess.run([sys.executable, "-m", "goldband", "run", "--no-progress", "-p", "no:cacheprovider"],
                         cwd=damaged.path, env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "SQLite's quick check found" in out.stderr and "Traceback" not in out.stderr
    assert not (damaged.path / "calls.log").exists()
    assert digest(path) == before


def test_the_handle_checks_once_and_a_worker_never(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.db"
    demo_store(path, runs=2).close()
    checks: list[bool] = []
    real = open_store

    def counting(*args: object, check: bool = False, **kwargs: object) -> object:
        checks.append(check)
        return real(*args, check=check, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("goldband.session.storage.open_store", counting)
    handle = StoreHandle(path)
    assert handle.existing() is handle.open() is handle.open()
    handle.close()
    worker = StoreHandle(path, check=False)
    worker.open()
    worker.close()
    assert checks == [True, False]
    damage_store(path)
    with pytest.raises(StoreError, match="quick check"):
        StoreHandle(path).open()
