"""``goldband init``: a starter project that passes, never overwrites, and ships valid workflows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from goldband.bands.decide import decide, min_runs_to_pass
from goldband.cli.init import FILES, PLACEHOLDER, render, write_project
from goldband.golden.goldenset import load
from goldband.testing import FakeOpenAI
from initkit import ANSWERS, project_env, serve

SPEC = "goldband @ git+https://github.com/acme/goldband@v0.1.0 ; python_version >= '3.11' and os_name != \"nt\""


def goldband(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "goldband", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=30)
    return tmp_path


def test_init_then_pytest_passes_against_a_loopback_server(repo: Path, openai_server: FakeOpenAI) -> None:
    made = goldband(repo, "init", "--install", SPEC)
    assert made.returncode == 0, made.stderr
    assert all((repo / dest).is_file() for dest in FILES)
    assert "pytest goldensets" in made.stdout and "goldband judge calibrate helpfulness" in made.stdout
    env = project_env(serve(openai_server).url)
    out = subprocess.run([sys.executable, "-m", "pytest", "goldensets", "-p", "no:cacheprovider"], cwd=repo,
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout
    cases = {case["case"]: case for case in report(repo)["cases"]}
    verdicts = {c: cases[c]["verdict"] for c in cases}
    assert {c: (v["status"], v["n"], v["passes"]) for c, v in verdicts.items()} == {
        "pro-price": ("PASS", 11, 11), "data-location": ("PASS", 11, 11)}
    (note,) = verdicts["data-location"]["notes"]  # judged, but not gating until calibrated
    assert note.startswith("rubric helpfulness: 11/11 pass, reported but not gating") and "never calibrated" in note
    asked = {json.dumps(r.body) for r in openai_server.requests}
    assert all(any(q in body for body in asked) for q in ANSWERS)
    assert (repo / "goldensets" / "assistant.lock").is_file()


def test_the_calibration_stub_is_read_by_judge_calibrate(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    write_project(tmp_path)
    out = goldband(tmp_path, "judge", "calibrate", "helpfulness", env=project_env(serve(openai_server).url))
    assert "4 rows" in out.stdout and "judge errors                   0" in out.stdout, out.stdout + out.stderr
    assert out.returncode == 1 and "below the agreement floor" in out.stderr  # a judge giving 5 to every row
    assert (tmp_path / "rubrics" / "helpfulness.agreement.json").is_file()


def report(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "reports" / "latest" / "report.json").read_text())
    return data


def test_refuses_to_overwrite_and_writes_nothing(repo: Path) -> None:
    (repo / "goldband.yaml").write_text("mine: true\n")
    (repo / "rubrics").mkdir()
    (repo / "rubrics" / "helpfulness.yaml").write_text("mine\n")
    before = sorted(p.relative_to(repo) for p in repo.rglob("*") if ".git" not in p.parts)
    out = goldband(repo, "init")
    assert out.returncode == 2
    assert "2 file(s) exist already: goldband.yaml, rubrics/helpfulness.yaml; nothing was written" in out.stderr
    assert sorted(p.relative_to(repo) for p in repo.rglob("*") if ".git" not in p.parts) == before
    assert (repo / "goldband.yaml").read_text() == "mine: true\n"


def test_a_config_in_pyproject_counts_as_existing(repo: Path) -> None:
    (repo / "pyproject.toml").write_text("[tool.goldband]\nmode = 'live'\n")
    out = goldband(repo, "init", str(repo))
    assert out.returncode == 2 and "pyproject.toml ([tool.goldband])" in out.stderr
    assert not (repo / "goldband.yaml").exists()


def test_bad_install_spec_and_missing_folder_are_usage_errors(tmp_path: Path) -> None:
    out = goldband(tmp_path, "init", "--install", "goldband\nrm -rf /")
    assert out.returncode == 2 and "--install" in out.stderr and not (tmp_path / "goldband.yaml").exists()
    out = goldband(tmp_path, "init", "nowhere/deeper")
    assert out.returncode == 2 and "'nowhere' does not exist" in out.stderr and not (tmp_path / "nowhere").exists()
    (tmp_path / "afile").write_text("x")
    out = goldband(tmp_path, "init", "afile")
    assert out.returncode == 2 and "'afile' is not a directory" in out.stderr


def test_a_new_folder_is_created_for_the_project(repo: Path) -> None:
    out = goldband(repo, "init", "evals")
    assert out.returncode == 0, out.stderr
    assert "wrote 7 files in evals" in out.stdout and "next, in evals:" in out.stdout
    assert all((repo / "evals" / dest).is_file() for dest in FILES)


def test_a_write_that_fails_midway_keeps_nothing(repo: Path) -> None:
    (repo / ".github").write_text("a file where the workflows' folder must go\n")
    (repo / "prompts").mkdir()  # the user's own folder: kept
    out = goldband(repo, "init")
    assert out.returncode == 2 and "nothing was kept" in out.stderr, out.stderr
    left = sorted(p.relative_to(repo).as_posix() for p in repo.iterdir() if p.name != ".git")
    assert left == [".github", "prompts"] and not any((repo / "prompts").iterdir())


def test_the_golden_set_band_can_pass_with_every_trial_passing(tmp_path: Path) -> None:
    for dest, text in render().items():
        (tmp_path / dest).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / dest).write_text(text)
    golden = load(tmp_path / "goldensets" / "assistant.yaml", base_dir=tmp_path)
    for case in golden.cases:
        band, runs = case.band, case.runs.max
        assert runs >= min_runs_to_pass(min_pass_rate=band.min_pass_rate, confidence=band.confidence)
        assert decide(runs, runs, min_pass_rate=band.min_pass_rate, confidence=band.confidence).verdict == "PASS"
        assert decide(runs - 1, runs - 1, min_pass_rate=band.min_pass_rate,
                      confidence=band.confidence).verdict != "PASS"  # 11 is the least: no run is wasted


def workflow(name: str, install: str = SPEC) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(render(install)[f".github/workflows/{name}"])
    data["on"] = data.pop(True)  # YAML 1.1 reads the key `on` as true
    return data


def steps(flow: dict[Any, Any]) -> list[dict[str, Any]]:
    (job,) = flow["jobs"].values()
    found: list[dict[str, Any]] = job["steps"]
    return found


def uses(flow: dict[Any, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(flow) if str(s.get("uses", "")).startswith(action)]


def test_the_pr_workflow_has_permissions_cache_and_the_comment() -> None:
    flow = workflow("goldband-pr.yml")
    assert "pull_request" in flow["on"]
    assert flow["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert flow["env"]["GOLDBAND_INSTALL"] == SPEC
    (restore,) = uses(flow, "actions/cache/restore@v4")
    assert restore["with"]["path"] == ".goldband/cache" and restore["with"]["restore-keys"] == "goldband-cache-"
    assert uses(flow, "actions/cache/save@v4")[0]["if"] == "always()"
    runs = " ".join(s.get("run", "") for s in steps(flow))
    assert "pytest goldensets --goldband-mode cached" in runs and '"$GITHUB_STEP_SUMMARY"' in runs
    (comment,) = uses(flow, "marocchino/sticky-pull-request-comment@v2")
    assert comment["with"]["path"] == "reports/latest/summary.md" and comment["if"].startswith("always()")


def test_the_nightly_workflow_carries_the_store_and_uploads_the_reports() -> None:
    flow = workflow("goldband-nightly.yml")
    assert set(flow["on"]) == {"schedule", "workflow_dispatch"} and flow["on"]["schedule"][0]["cron"]
    (restore,) = uses(flow, "actions/cache/restore@v4")
    (save,) = uses(flow, "actions/cache/save@v4")
    assert restore["with"]["path"] == save["with"]["path"] == ".goldband/store.db"
    assert restore["with"]["restore-keys"] == "goldband-store-" and save["if"] == "always()"
    assert save["with"]["key"] == restore["with"]["key"]  # a new key each night; the newest is restored
    runs = " ".join(s.get("run", "") for s in steps(flow))
    assert "--goldband-kind nightly" in runs and "--goldband-mode live" in runs
    (upload,) = uses(flow, "actions/upload-artifact@v4")
    assert upload["if"] == "always()" and "reports/" in upload["with"]["path"]


def test_without_install_the_workflows_name_the_placeholder(repo: Path) -> None:
    assert workflow("goldband-nightly.yml", PLACEHOLDER)["env"]["GOLDBAND_INSTALL"] == PLACEHOLDER
    out = goldband(repo, "init")
    assert out.returncode == 0 and "placeholder" in out.stdout and "GOLDBAND_INSTALL" in out.stdout
