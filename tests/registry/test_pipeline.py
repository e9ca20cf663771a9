"""The retrain pipeline end to end: real training processes, real stores, a real webhook on 127.0.0.1,
and real ``goldband`` processes killed with SIGKILL in the middle of each step.

Every project here serves churn:1 (fitted on the old world); a retrain learns the changed world from
``data/changed.csv`` and beats it, unless ``CHURN_SABOTAGE=1`` shuffles its labels. The helpers and
the control points (hold files, named pipes, a receiver that holds its reply) are in
``tests/registrykit.py``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from goldband.registry.pipeline import STEPS
from registrykit import (
    HOLDING_TRAIN,
    Receiver,
    assert_promotions_were_gated,
    backend,
    churn_project,
    cli,
    events,
    fifo_reader_waiting,
    gate_rows,
    goldband_process,
    gone,
    kill_group,
    ok,
    query,
    refused,
    request,
    retrain_yaml,
    serving,
    serving_v1,
    sinks_yaml,
    steps,
    stop,
    versions_of_request,
    wait_for,
)

PY = shlex.quote(sys.executable)
MONITORED = "monitors:\n  models:\n    churn: {}\n"


@pytest.fixture(autouse=True)
def _no_training_left(tmp_path: Path) -> Iterator[None]:
    """After each test (and its assertions on them), end any training it started that still runs."""
    yield
    for pid in _pids(tmp_path):
        kill_group(pid, tmp_path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


def loop_project(root: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver, store: str, *,
                 command: str = HOLDING_TRAIN, more: str = "", retrain: str | None = None) -> Path:
    """A churn project serving churn:1, retraining with ``command``, monitored, notifying ``receiver``; its
    ``store:`` is ``store`` (``registrykit.backend``)."""
    churn_project(root, monkeypatch, predict="holding:predict", store=store,
                  retrain=retrain if retrain is not None else retrain_yaml(command=command, more=more),
                  extra=sinks_yaml(receiver.url) + MONITORED)
    serving_v1(root)
    return root


def workspace(root: Path, request_id: int = 1) -> Path:
    return root / ".goldband" / "retrain" / str(request_id)


def references(root: Path) -> dict[str, str]:
    return dict(query(root, "SELECT version, path FROM monitor_references WHERE model = 'churn'"))


def statuses(root: Path, request_id: int = 1) -> dict[str, tuple[str, int]]:
    return {step: (status, attempts) for step, (status, attempts, _, _) in steps(root, request_id).items()}


# --------------------------------------------------------------------------- the happy paths


def test_auto_approval_promotes_and_records_every_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       receiver: Receiver, store_at: str) -> None:
    root = loop_project(tmp_path, monkeypatch, receiver, backend(store_at))
    out = ok("retrain", "run", "churn", "--now", "--reason", "concept shift")
    assert out.splitlines() == ["queued retrain #1 of churn: concept shift",
                                "retrain #1 churn: promoted churn:2 gate #2 (manual: concept shift)"]
    assert request(root) | {"reason": None} == {"id": 1, "model": "churn", "trigger": "manual", "alert_id": None,
                                                "status": "promoted", "candidate": "2", "gate_id": 2,
                                                "reason": None, "owner": None}
    assert statuses(root) == {step: ("done", 1) for step in STEPS}
    found = steps(root)
    log = workspace(root) / "train.log"
    assert found["train"][2] == str(log) and found["train"][3]["exit_code"] == 0
    assert log.read_text().strip() == f"trained on 300 rows; weights in {workspace(root) / 'artifact'}"
    assert found["register"][3]["version"] == "2"
    assert found["gate"][3] | {"reasons": []} == {"gate": 2, "decision": "pass", "champion": "1", "reasons": []}
    assert found["decide"][3]["outcome"] == "promoted" and found["decide"][3]["from"] == "1"
    assert serving(root) == "2" and versions_of_request(root, 1) == ["2"]
    assert_promotions_were_gated(root)
    assert events(root, "promote")[-1]["evidence"] == {"gate": 2, "retrain_request": 1}
    data = json.loads(query(root, "SELECT data FROM registry_versions WHERE version = '2'")[0][0])
    assert data["path"] == str(workspace(root) / "data.csv") and data["rows"] == 300
    features = json.loads(query(root, "SELECT features FROM registry_versions WHERE version = '2'")[0][0])
    assert features == {k: v for k, v in data["columns"].items() if k != "label"} and len(features) == 5
    assert references(root) == {"2": str(workspace(root) / "data.csv")}  # the monitors now watch churn:2
    assert found["reference"][3]["reference"].startswith("the monitors now compare churn:2's predictions with ")
    assert found["notify"][3] == {"notified": {"webhook": "ok"}}
    [told] = receiver.details()
    assert {k: told[k] for k in ("model", "kind", "from_version", "to_version")} == {
        "model": "churn", "kind": "promoted", "from_version": "1", "to_version": "2"}
    assert told["evidence"] == {"gate": 2, "retrain_request": 1}
    assert "churn:2 now serves (retrain #1)" in receiver.bodies[0]["text"]


def test_manual_approval_waits_then_approve_promotes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     receiver: Receiver, store_at: str) -> None:
    root = loop_project(tmp_path, monkeypatch, receiver, backend(store_at), more="approval: manual\n")
    out = ok("retrain", "run", "churn", "--now")
    assert out.splitlines()[-1] == "retrain #1 churn: waiting churn:2 gate #2 (manual: by hand)"
    assert request(root)["status"] == "waiting" and serving(root) == "1"
    assert statuses(root)["decide"] == ("waiting", 1) and "reference" not in statuses(root)
    assert [(d["kind"], d["to_version"]) for d in receiver.details()] == [("waiting", "2")]
    assert "goldband retrain approve 1" in receiver.bodies[0]["text"]
    assert ok("retrain", "approve", "1", "--reason", "checked the gate").strip() == (
        "retrain #1 churn: promoted churn:2 gate #2 (manual: by hand)")
    assert serving(root) == "2" and request(root)["status"] == "promoted"
    approval = events(root, "approve")[-1]
    assert approval["to_version"] == "2" and approval["evidence"] == {"retrain_request": 1, "gate": 2}
    assert approval["reason"] == "checked the gate"
    assert statuses(root) == {step: ("done", 2 if step == "decide" else 1) for step in STEPS}
    assert [d["kind"] for d in receiver.details()] == ["waiting", "promoted"]
    assert_promotions_were_gated(root)
    assert "2" in references(root)


def test_a_bad_retrain_is_parked_and_production_stays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      receiver: Receiver, store_at: str) -> None:
    root = loop_project(tmp_path, monkeypatch, receiver, backend(store_at))
    monkeypatch.setenv("CHURN_SABOTAGE", "1")
    out = ok("retrain", "run", "churn", "--now")
    assert out.splitlines()[-1] == "retrain #1 churn: parked churn:2 gate #2 (manual: by hand)"
    assert serving(root) == "1" and request(root)["status"] == "parked"
    [park] = events(root, "park")
    assert park["to_version"] == "2" and park["evidence"] == {"gate": 2, "retrain_request": 1}
    assert park["reason"].startswith("gate: roc_auc: candidate 0.55 is below the floor 0.6; roc_auc: candidate 0.55 "
                                     "vs champion 0.722")
    assert gate_rows(root)[-1]["decision"] == "fail"
    assert statuses(root)["reference"] == ("skipped", 1) and references(root) == {}
    assert [(d["kind"], d["to_version"], d["from_version"]) for d in receiver.details()] == [("parked", "2", "1")]
    assert "is parked" in refused(2, "registry", "promote", "churn", "2", "--reason", "try anyway")


TRAINER = '''\
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "examples" / "churn"))
from model import CATEGORIES, NUMERIC, save, train as fit  # noqa: E402


def train(artifact_dir, data_path, data_since, model, request):
    with open("data/changed.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    names = [*NUMERIC, *CATEGORIES]
    save(fit({n: [r[n] for r in rows] for n in names}, [float(r["label"]) for r in rows]), Path(artifact_dir))
    Path(data_path).write_text(Path("data/changed.csv").read_text())
    print(f"callable trained {model} for request {request} since {data_since!r}")
'''


def test_a_callable_trains_in_its_own_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              receiver: Receiver, store_at: str) -> None:
    root = loop_project(tmp_path, monkeypatch, receiver, backend(store_at),
                        retrain="on: [concept_drift]\ncallable: trainer:train\ntimeout: 1m\n")
    (root / "trainer.py").write_text(TRAINER)
    ok("retrain", "run", "churn", "--now")
    assert request(root)["status"] == "promoted" and serving(root) == "2"
    promoted = events(root, "promote")[0]["time"]
    assert (workspace(root) / "train.log").read_text().strip() == (
        f"callable trained churn for request 1 since {promoted!r}")


# --------------------------------------------------------------------------- training that fails


def _pids(root: Path) -> list[int]:
    path = root / "train-pids"
    return [int(p) for p in path.read_text().split()] if path.exists() else []


TRAINING_FAILURES = {
    "exits non-zero": (f"{PY} -c \"import sys; print('reading rows'); sys.exit(3)\"", "",
                       "training exited with status 3", "reading rows"),
    "hangs past its timeout": ("echo $$ >> train-pids; echo sleeping; sleep 30 & echo $! >> train-pids; wait",
                               "timeout: 1s\n", "training ran past its timeout (1 s) and was killed", "sleeping"),
    "writes no artifact": ("echo trained nothing", "", "training wrote no artifact", "trained nothing"),
}


@pytest.mark.parametrize("case", list(TRAINING_FAILURES))
def test_training_that_fails_fails_the_request_and_registers_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      receiver: Receiver, store_at: str,
                                                                      case: str) -> None:
    command, more, message, output = TRAINING_FAILURES[case]
    root = loop_project(tmp_path, monkeypatch, receiver, backend(store_at), command=command, more=more)
    result = cli("retrain", "run", "churn", "--now")
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[-1].startswith("retrain #1 churn: failed (manual: by hand; train failed: ")
    assert message in result.stdout
    [(step, (status, attempts, log, detail))] = steps(root).items()
    log_path = workspace(root) / "train.log"
    assert (step, status, attempts, log) == ("train", "failed", 1, str(log_path))
    assert message in detail["error"]
    assert output in log_path.read_text()
    assert request(root)["status"] == "failed" and request(root)["candidate"] is None
    assert query(root, "SELECT version FROM registry_versions") == [("1",)] and serving(root) == "1"
    assert [d["kind"] for d in receiver.details()] == ["failed"]
    for pid in _pids(root):  # the timeout killed the training's whole process group
        wait_for(lambda pid=pid: gone(pid), timeout=5, what=f"training process {pid} to end")


# --------------------------------------------------------------------------- one pipeline per model


def test_a_second_pipeline_for_the_same_model_is_refused_while_the_first_lives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver, store_at: str) -> None:
    root = loop_project(tmp_path, monkeypatch, receiver, backend(store_at), more="approval: manual\n")
    ok("retrain", "run", "churn", "--now")  # request #1 waits for approval
    (root / "hold-train").touch()
    first = goldband_process(root, "retrain", "run", "churn", "--now")  # request #2, held in its training
    try:
        wait_for(lambda: (root / "ready-train").exists(), what="the first pipeline to train", proc=first)
        owner = request(root, 2)["owner"]
        assert owner.endswith(f":{first.pid}")
        busy = f"a retrain of model 'churn' is running (request #2, {owner})"
        before = query(root, "SELECT id, status, owner FROM retrain_requests ORDER BY id"), events(root)
        assert busy in refused(2, "retrain", "run", "churn")
        assert busy in refused(2, "retrain", "run", "churn", "--now")
        assert busy in refused(2, "retrain", "approve", "1")
        assert "retrain request #2 is running" in refused(2, "retrain", "cancel", "2")
        after = query(root, "SELECT id, status, owner FROM retrain_requests ORDER BY id"), events(root)
        assert after == before  # nothing queued by --now, nothing approved
        every = cli("retrain", "run")  # every model's requests (a cron job): the busy model's are left alone
        assert every.exit_code == 0 and every.stdout.strip() == "nothing to retrain"
        assert every.stderr.strip() == f"retrain #2 of churn runs in {owner}"
        (root / "release-train").touch()
        out, err = first.communicate(timeout=60)
    finally:
        stop(first)
    assert first.returncode == 0, err
    assert out.splitlines()[-1] == "retrain #2 churn: waiting churn:3 gate #3 (manual: by hand)"
    assert ok("retrain", "approve", "2").strip() == "retrain #2 churn: promoted churn:3 gate #3 (manual: by hand)"
    assert serving(root) == "3"


# --------------------------------------------------------------------------- kill and resume


class KillPoint:
    """How to hold a pipeline inside one step, know it is there, and let the next run through.

    train: the command waits (``hold-train``); register: the training snapshot is a named pipe the
    register step reads; gate: the candidate's predict waits on ``hold-gate``; decide (approval: manual):
    the webhook holds its reply to "waiting for approval"; notify: the webhook holds its reply to "promoted".
    The first training waits for ``release-train``, which never comes: the resumed pipeline has to end it
    (a killed pipeline's training must not go on writing into the next attempt's workspace).
    """

    def __init__(self, root: Path, receiver: Receiver, step: str) -> None:
        self.root, self.receiver, self.step = root, receiver, step
        self.fd: int | None = None
        self.data = workspace(root) / "data.csv"

    def arm(self) -> None:
        marker = {"train": "hold-train", "register": "fifo-data", "gate": "hold-gate"}
        if self.step in marker:
            (self.root / marker[self.step]).touch()
        else:
            self.receiver.hold()

    def reach(self, proc: subprocess.Popen[str]) -> None:
        """Wait until the process is inside the step (blocked where the test holds it)."""
        if self.step == "train":
            wait_for(lambda: (self.root / "ready-train").exists(), what="training", proc=proc)
        elif self.step == "gate":
            wait_for(lambda: (self.root / "ready-gate").exists(), what="the gate's predict", proc=proc)
        elif self.step == "register":
            wait_for(lambda: steps(self.root).get("register", ("",))[0] == "running", what="register", proc=proc)
            self.fd = wait_for(lambda: fifo_reader_waiting(self.data), what="register to read the data", proc=proc)
        else:
            wait_for(lambda: self.receiver.waiting, what="the webhook call", proc=proc)
        assert steps(self.root)[self.step][0] == "running"

    def disarm(self) -> None:
        """Let the next run through: no holds, the training snapshot back in place."""
        if self.fd is not None:
            os.close(self.fd)
        for name in ("hold-train", "hold-gate", "fifo-data"):
            (self.root / name).unlink(missing_ok=True)
        if (self.root / "data-copy.csv").exists():
            self.data.unlink()
            (self.root / "data-copy.csv").rename(self.data)
        self.receiver.release()


def _kill_and_resume(root: Path, point: KillPoint, *resume: str) -> tuple[dict[str, tuple[str, int]], str, str]:
    """``goldband retrain run churn --now`` in a real process, SIGKILLed inside ``point.step``; then ``goldband
    RESUME`` in this process. The steps and the request's status as the kill left them, and what RESUME printed."""
    point.arm()
    proc = goldband_process(root, "retrain", "run", "churn", "--now")
    try:
        point.reach(proc)
    finally:
        stop(proc)
    left, status = statuses(root), request(root)["status"]
    point.disarm()
    return left, status, ok(*resume)


@pytest.mark.parametrize("step", ["train", "register", "gate", "decide", "notify"])
def test_a_pipeline_killed_inside_a_step_resumes_there_and_promotes_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver, store_at: str, step: str) -> None:
    manual = step == "decide"  # held while it tells the webhook it waits for approval; resumed by approving
    root = loop_project(tmp_path, monkeypatch, receiver, backend(store_at), more="approval: manual\n" if manual else "")
    resume = ("retrain", "approve", "1") if manual else ("retrain", "run", "churn")
    left, status, out = _kill_and_resume(root, KillPoint(root, receiver, step), *resume)
    assert left == {**{s: ("done", 1) for s in STEPS[:STEPS.index(step)]}, step: ("running", 1)}
    assert status == ("waiting" if manual else "running")  # a dead owner's request: the next run takes it
    gate = 3 if step == "gate" else 2  # a killed gate is run again: a new gate
    assert out.strip() == f"retrain #1 churn: promoted churn:2 gate #{gate} (manual: by hand)"
    assert statuses(root) == {s: ("done", 2 if s == step else 1) for s in STEPS}
    assert request(root)["status"] == "promoted" and request(root)["owner"] is None
    assert serving(root) == "2" and versions_of_request(root, 1) == ["2"]
    assert [e["to_version"] for e in events(root, "promote")] == ["1", "2"]  # promoted exactly once
    assert_promotions_were_gated(root)
    assert "2" in references(root)
    assert {d["kind"] for d in receiver.details()} == ({"waiting", "promoted"} if manual else {"promoted"})
    pids = _pids(root)
    assert len(pids) == (2 if step == "train" else 1)
    assert all(gone(pid) for pid in pids)  # no training outlived its pipeline: the resumed one ended it


def test_a_bad_retrain_killed_in_its_gate_is_parked_exactly_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  receiver: Receiver, store_at: str) -> None:
    root = loop_project(tmp_path, monkeypatch, receiver, backend(store_at))
    monkeypatch.setenv("CHURN_SABOTAGE", "1")
    left, _, out = _kill_and_resume(root, KillPoint(root, receiver, "gate"), "retrain", "run", "churn")
    assert left == {"train": ("done", 1), "register": ("done", 1), "gate": ("running", 1)}
    assert out.strip() == "retrain #1 churn: parked churn:2 gate #3 (manual: by hand)"
    assert [e["to_version"] for e in events(root, "park")] == ["2"] and serving(root) == "1"
    assert [e["to_version"] for e in events(root, "promote")] == ["1"]
    assert [(g["candidate"], g["status"], g["decision"]) for g in gate_rows(root)[1:]] == [
        ("2", "failed", None), ("2", "complete", "fail")]  # the killed gate is closed as failed on resume
    assert gate_rows(root)[1]["reasons"] == ["interrupted: its process was killed"]
    assert versions_of_request(root, 1) == ["2"]
