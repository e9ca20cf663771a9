"""``goldband gate`` and ``goldband retrain run | status | approve | cancel`` on a real churn project:
exit statuses, JSON shapes, and every refusal as one ``Error:`` line without a traceback."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from goldband.store.registry import RetrainRequest, StepRow
from registrykit import (
    backend,
    churn_project,
    cli,
    ok,
    query,
    refused,
    register,
    registry,
    retrain_yaml,
    serving,
    serving_v1,
    set_yaml,
)

OUTCOME_KEYS = {"id", "model", "candidate", "champion", "passed", "reasons", "failures", "metrics"}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_at: str) -> Path:
    root = churn_project(tmp_path, monkeypatch, retrain=retrain_yaml(more="approval: manual\n"),
                         store=backend(store_at))
    serving_v1(root)
    return root


def test_gate_exits_0_when_the_candidate_passes(project: Path) -> None:
    register(project, "v2")
    lines = ok("gate", "churn", "2").splitlines()
    assert lines[0] == "gate #2: churn:2 against churn:1: PASSED"
    assert len(lines) == 6 and all(line.startswith("  ") for line in lines[1:])
    assert lines[1] == "  roc_auc: candidate 0.819 clears the floor 0.6"


def test_gate_exits_1_and_parks_unless_told_not_to(project: Path) -> None:
    register(project, "v1")  # the serving weights again: not better
    assert ok("gate", "churn", "2", "--no-park", status=1).splitlines()[0] == (
        "gate #2: churn:2 against churn:1: FAILED")
    with registry(project) as reg:
        assert reg.parked("churn", "2") is None
    outcome = json.loads(ok("gate", "churn", "2", "--json", status=1))
    assert set(outcome) == OUTCOME_KEYS and outcome["passed"] is False and outcome["id"] == 3
    assert (outcome["model"], outcome["candidate"], outcome["champion"]) == ("churn", "2", "1")
    assert outcome["failures"] == [r for r in outcome["reasons"] if "not significantly better" in r]
    assert set(outcome["metrics"]) == {"roc_auc", "accuracy", "log_loss"}
    with registry(project) as reg:
        assert (reg.parked("churn", "2") or "").startswith("gate: roc_auc: candidate 0.722 vs champion 0.722")


def test_gate_exits_2_when_it_cannot_decide(project: Path) -> None:
    register(project, "v2")
    (project / "broken.py").write_text("def predict(artifact, frame):\n    raise OSError('disk gone')\n")
    set_yaml(project, predict="broken:predict", retrain=retrain_yaml())
    line = refused(2, "gate", "churn", "2", "--json")
    assert line.startswith("Error: gate #2 of churn:2 could not finish (recorded as failed; no alias moved): "
                           "churn:2 (predict): predict raised OSError: disk gone; ")
    assert line.endswith("fix: run the predict callable on the holdout by hand to see the error; then run "
                         "`goldband gate churn 2` again")


def test_a_gate_that_cannot_decide_is_one_line_from_a_real_process(project: Path) -> None:
    register(project, "v2")
    set_yaml(project, eval_path="data/missing.csv")
    done = subprocess.run([sys.executable, "-m", "goldband", "gate", "churn", "2"], cwd=project,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: gate #2 of churn:2 could not finish")
    assert "data/missing.csv: no such file" in done.stderr


def test_retrain_run_now_needs_a_model(project: Path) -> None:
    assert refused(2, "retrain", "run", "--now") == (
        "Error: goldband retrain run --now: --now needs the MODEL to retrain")
    assert query(project, "SELECT COUNT(*) FROM retrain_requests") == [(0,)]


def test_retrain_status_json_lists_requests_with_their_steps(project: Path) -> None:
    assert ok("retrain", "status").strip() == "no retrain requests pending (--all: every one)"
    waiting = json.loads(ok("retrain", "run", "churn", "--now", "--json"))
    assert [(r["id"], r["status"], r["candidate"]) for r in waiting] == [(1, "waiting", "2")]
    found = json.loads(ok("retrain", "status", "--json"))
    assert [r["status"] for r in found] == ["waiting"]
    [entry] = found
    assert set(entry) == {f.name for f in dataclasses.fields(RetrainRequest)} | {"steps"}
    assert [s["step"] for s in entry["steps"]] == ["train", "register", "gate", "decide"]
    assert all(set(s) == {f.name for f in dataclasses.fields(StepRow)} for s in entry["steps"])
    assert [s["status"] for s in entry["steps"]] == ["done", "done", "done", "waiting"]
    assert entry["steps"][0]["log"].endswith("/retrain/1/train.log")
    text = ok("retrain", "status", "churn").splitlines()
    assert text[0] == "retrain #1 churn: waiting churn:2 gate #2 (manual: by hand)"
    assert [line.split()[:2] for line in text[1:]] == [["train", "done"], ["register", "done"], ["gate", "done"],
                                                       ["decide", "waiting"]]
    [approved] = json.loads(ok("retrain", "approve", "1", "--json"))
    assert (approved["id"], approved["status"], approved["candidate"]) == (1, "promoted", "2")
    assert json.loads(ok("retrain", "status", "--json")) == []
    assert [r["status"] for r in json.loads(ok("retrain", "status", "--all", "--json"))] == ["promoted"]


def test_retrain_cancel_ends_a_waiting_request_and_refuses_a_finished_one(project: Path) -> None:
    ok("retrain", "run", "churn", "--now")
    assert ok("retrain", "cancel", "1", "--reason", "not this week").strip() == (
        "retrain #1 churn: cancelled churn:2 gate #2 (manual: by hand; cancelled: not this week)")
    assert serving(project) == "1"
    assert refused(2, "retrain", "cancel", "1") == (
        "Error: goldband retrain cancel: retrain request #1 cannot be cancelled (cancelled)")
    assert "is not waiting for approval (cancelled)" in refused(2, "retrain", "approve", "1")
    ok("retrain", "run", "churn", "--now")  # a new request, a new candidate (churn:2 stays as it was)
    ok("retrain", "run", "churn", "--now")  # and one more, cancelled by a script
    [cancelled] = json.loads(ok("retrain", "cancel", "3", "--json"))
    assert (cancelled["id"], cancelled["status"]) == (3, "cancelled")
    assert cancelled["reason"] == "by hand; cancelled: by hand"
    ok("retrain", "approve", "2")
    assert serving(project) == "3"
    assert refused(2, "retrain", "cancel", "2") == (
        "Error: goldband retrain cancel: retrain request #2 cannot be cancelled (promoted)")


@pytest.mark.parametrize(("args", "message"), [
    (("gate", "churn", "9"), "Error: registry: model 'churn' has no version '9'; expected one of its versions: 1"),
    (("gate", "fraud", "1"), "Error: goldband.yaml (registry.models): model 'fraud' has no gate configured"),
    (("retrain", "run", "fraud", "--now"), "Error: goldband.yaml (registry.models): model 'fraud' has no retrain "
                                           "configured"),
    (("retrain", "approve", "7"), "Error: goldband retrain approve: retrain request #7 is not waiting for "
                                  "approval (missing)"),
    (("retrain", "cancel", "7"), "Error: goldband retrain cancel: retrain request #7 cannot be cancelled (missing)"),
])
def test_every_refusal_is_one_error_line(project: Path, args: tuple[str, ...], message: str) -> None:
    assert refused(2, *args).startswith(message)


def test_a_missing_store_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    churn_project(tmp_path, monkeypatch, retrain=retrain_yaml())
    for args in (("gate", "churn", "1"), ("retrain", "status"), ("retrain", "approve", "1")):
        assert "no store here yet" in refused(2, *args)
    assert not (tmp_path / ".goldband" / "store.db").exists()
    result = cli("retrain", "run")  # run creates the store: nothing to do yet
    assert result.exit_code == 0 and result.stdout.strip() == "nothing to retrain"
