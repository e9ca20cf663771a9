"""``goldband history`` and ``goldband monitor status`` with runs in several environments (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envkit import env_run
from goldband.store import open_store

RUNS = [("20261101-020000-0001", 1, None, "PASS"), ("20261102-020000-0002", 2, "staging", "FAIL"),
        ("20261103-020000-0003", 3, "production", "PASS"), ("20261104-020000-0004", 4, "staging", "PASS")]


def goldband(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "goldband", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.fixture
def project(tmp_path: Path, store_at: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs in three environments, in a store of each backend that the commands find through GOLDBAND_STORE."""
    monkeypatch.setenv("GOLDBAND_STORE", store_at)
    with open_store(store_at) as store:
        for run_id, day, environment, status in RUNS:
            env_run(store, run_id, day, environment, status, kind="nightly")
    return tmp_path


def test_history_groups_runs_by_environment_and_filters_one(project: Path) -> None:
    out = goldband(project, "history").stdout
    headings = [line for line in out.splitlines() if line.startswith("environment ")]
    assert headings == ["environment default (1 run)", "environment production (1 run)",
                        "environment staging (2 runs)"]
    staging = out[out.index("environment staging"):]
    assert "20261104-020000-0004" in staging and "20261102-020000-0002" in staging
    only = json.loads(goldband(project, "history", "--environment", "staging", "--json").stdout)
    assert [(r["id"], r["environment"]) for r in only] == [("20261104-020000-0004", "staging"),
                                                            ("20261102-020000-0002", "staging")]
    default = json.loads(goldband(project, "history", "--environment", "default", "--json").stdout)
    assert [r["id"] for r in default] == ["20261101-020000-0001"]


def test_a_case_history_keeps_to_one_environment(project: Path) -> None:
    out = goldband(project, "history", "support::refund-window[support-v1]", "--environment", "staging").stdout
    assert "20261102-020000-0002" in out and "20261104-020000-0004" in out and "20261103" not in out


def test_monitor_status_shows_each_environments_eval_series(project: Path) -> None:
    out = goldband(project, "monitor", "status").stdout
    table = out[out.index("LLM eval series"):].splitlines()
    assert table[1].split()[:2] == ["target", "environment"]
    pass_rates = [line.split()[:2] for line in table[2:] if " pass_rate " in line]
    assert pass_rates == [["support-v1", "default"], ["support-v1", "production"], ["support-v1", "staging"]]
    staged = json.loads(goldband(project, "monitor", "status", "--json", "--environment", "staging").stdout)
    assert {e["environment"] for e in staged["evals"]} == {"staging"}
    assert [len(e["values"]) for e in staged["evals"] if e["metric"] == "pass_rate"] == [2]


def test_a_store_without_environments_looks_as_before(tmp_path: Path, store_at: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLDBAND_STORE", store_at)
    with open_store(store_at) as store:
        env_run(store, "20261101-020000-0001", 1, None, kind="nightly")
    history = goldband(tmp_path, "history").stdout.replace(store_at, "")  # a database named after the test
    assert history.startswith("run ") and "environment" not in history
    status = goldband(tmp_path, "monitor", "status").stdout.replace(store_at, "")
    assert "environment" not in status and "support-v1" in status


@pytest.mark.parametrize("command", [["history"], ["monitor", "status"]])
def test_a_bad_environment_is_one_clear_message(project: Path, command: list[str]) -> None:
    done = goldband(project, *command, "--environment", "Prod EU")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "--environment: environment 'Prod EU' is not a valid name" in done.stderr
    assert "expected an environment name of lowercase letters" in done.stderr and "fix: use e.g." in done.stderr


def test_a_bad_environment_in_goldband_yaml_names_the_line(project: Path) -> None:
    (project / "goldband.yaml").write_text("store: .goldband/store.db\nenvironment: Prod EU\n")
    done = goldband(project, "monitor", "status")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "goldband.yaml:2: environment: expected an environment name of lowercase letters" in done.stderr


def test_registry_aliases_are_per_environment(tmp_path: Path) -> None:
    """``churn@production`` and ``churn@staging`` are each environment's alias: moving one never moves the other."""
    from goldband.registry import Registry

    with open_store(tmp_path / ".goldband" / "store.db") as store:
        registry = Registry(store, root=tmp_path)
        for n in (1, 2):
            (tmp_path / f"m{n}.bin").write_text(f"model {n}")
            registry.register("churn", artifact=tmp_path / f"m{n}.bin")
        registry.promote("churn", "1", force=True, reason="first")
        registry.promote("churn", "2", alias="staging", reason="try 2")
        registry.promote("churn", "1", alias="staging", reason="try 1")
    done = goldband(tmp_path, "registry", "rollback", "churn", "--alias", "staging", "--reason", "back to 2")
    assert done.returncode == 0, done.stderr
    with open_store(tmp_path / ".goldband" / "store.db") as store:
        assert Registry(store, root=tmp_path).aliases("churn") == {"production": "1", "staging": "2"}
    assert goldband(tmp_path, "registry", "show", "churn@staging").stdout.split()[0] == "churn:2"
