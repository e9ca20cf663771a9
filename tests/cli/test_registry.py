"""``goldband registry ...`` through click's runner against real stores, and once as a real process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from goldband.cli import main
from goldband.registry.artifacts import file_sha256
from goldband.store import open_store
from goldband.store import registry as db
from goldband.store.registry import GateRow


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_at: str) -> Path:
    """An empty project folder as the current directory, two trained artifacts and a training table in it; its
    store the default file .goldband/store.db, or (the second backend) a PostgreSQL database in GOLDBAND_STORE."""
    for name in ("GOLDBAND_STORE", "CI", "GITHUB_ACTIONS", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)
    if not store_at.endswith(".db"):
        monkeypatch.setenv("GOLDBAND_STORE", store_at)
    monkeypatch.setenv("GOLDBAND_ACTOR", "ana")
    monkeypatch.chdir(tmp_path)
    for number in (1, 2, 3):
        (tmp_path / "out" / str(number)).mkdir(parents=True)
        (tmp_path / "out" / str(number) / "model.pkl").write_text(f"weights {number}")
    (tmp_path / "train.csv").write_text("tenure,plan\n3,basic\n10,pro\n")
    return tmp_path


def store_of(project: Path) -> str:
    """Where the project's commands keep the store: GOLDBAND_STORE (PostgreSQL), else the default file."""
    return os.environ.get("GOLDBAND_STORE") or str(project / ".goldband" / "store.db")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["registry", *args])


def ok(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def as_json(*args: str) -> Any:
    return json.loads(ok(*args, "--json"))


def refused(status: int, *args: str) -> str:
    """Run a command that must fail: its exit status, and one ``Error:`` line on stderr without a traceback."""
    result = invoke(*args)
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def three_versions() -> None:
    for number in (1, 2, 3):
        ok("register", "churn", "--artifact", f"out/{number}/model.pkl", "--reason", f"train {number}")


def add_gate(project: Path, candidate: str, champion: str) -> int:
    with open_store(store_of(project), create=False) as store, store.transaction() as conn:
        return db.insert_gate(conn, GateRow("churn", candidate, "classic", "complete", "2026-11-01T00:00:00+00:00",
                                            champion=champion, decision="pass", policy="superior",
                                            reasons=["roc_auc 0.81 > 0.78"]))


# --------------------------------------------------------------------------- register


def test_register_prints_the_version_and_its_artifact(project: Path) -> None:
    out = ok("register", "churn", "--artifact", "out/1/model.pkl", "--data", "train.csv",
             "--feature", "tenure=numeric", "--feature", "plan=categorical", "--param", "max_depth=6",
             "--param", "lr=0.1", "--param", "optimizer=adam", "--param", "layers=[64, 32]", "--param", "x=NaN",
             "--description", "baseline", "--reason", "first training")
    sha = file_sha256(project / "out" / "1" / "model.pkl")
    assert out.splitlines()[0] == f"registered churn:1 (artifact sha256 {sha[:12]}…, 9 B)"
    assert out.splitlines()[1].startswith(f"  data    {project / 'train.csv'} (sha256 ")
    assert "2 rows, columns tenure (numeric), plan (text)" in out
    assert (project / ".goldband" / "artifacts" / sha[:2] / sha / "model.pkl").read_text() == "weights 1"
    row = as_json("register", "churn", "--artifact", "out/2/model.pkl")
    assert row["ref"] == "churn:2" and row["version"] == "2" and row["artifact_kind"] == "file"
    assert row["created_by"] == "ana" and row["parent"] is None and row["data"] is None
    first = as_json("show", "churn:1")
    assert first["params"] == {"max_depth": 6, "lr": 0.1, "optimizer": "adam", "layers": [64, 32], "x": "NaN"}
    assert first["features"] == {"tenure": "numeric", "plan": "categorical"}
    assert first["description"] == "baseline" and first["events"][0]["reason"] == "first training"


def test_register_paths_are_relative_to_the_current_directory(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "goldband.yaml").write_text("targets: {}\n")
    monkeypatch.chdir(project / "out")
    row = as_json("register", "churn", "--artifact", "2/model.pkl")
    assert row["artifact_sha256"] == file_sha256(project / "out" / "2" / "model.pkl")
    if "GOLDBAND_STORE" not in os.environ:
        assert (project / ".goldband" / "store.db").exists()  # the store is the project's, found from below


def test_register_by_uri_and_its_refusals(project: Path) -> None:
    out = ok("register", "churn", "--uri", "s3://models/churn/7.pkl", "--sha256", "ab" * 32)
    assert out.strip() == f"registered churn:1 (artifact s3://models/churn/7.pkl, sha256 {'ab' * 6}…)"
    assert "needs its sha256" in refused(2, "register", "churn", "--uri", "s3://x")
    assert "not a sha256: 'xyz'" in refused(2, "register", "churn", "--uri", "s3://x", "--sha256", "xyz")
    assert "the artifact's sha256 is" in refused(2, "register", "churn", "--artifact", "out/1/model.pkl",
                                                 "--sha256", "0" * 64)
    line = refused(2, "register", "churn", "--artifact", "out/9/model.pkl")
    assert "out/9/model.pkl: the artifact does not exist" in line
    assert "model name 'bad name' is not allowed" in refused(2, "register", "bad name")
    assert "is a classic model, not llm" in refused(2, "register", "churn", "--kind", "llm")
    assert "parent version '5'" in refused(2, "register", "churn", "--parent", "5")
    assert [v["version"] for v in as_json("list", "churn")] == ["1"]  # nothing of the refused ones stored


@pytest.mark.parametrize(("args", "message"), [
    (["--feature", "tenure"], "--feature: not NAME=TYPE: 'tenure'; expected NAME=TYPE, e.g. --feature tenure=numeric"),
    (["--feature", "=numeric"], "--feature: not NAME=TYPE: '=numeric'"),
    (["--feature", "tenure=1x"], "--feature: feature 'tenure' has type '1x', which is not a type name"),
    (["--feature", "a=numeric", "--feature", "a=text"], "--feature: 'a' is given twice"),
    (["--param", "depth"], "--param: not KEY=VALUE: 'depth'; expected KEY=VALUE, e.g. --param max_depth=6"),
    (["--param", "depth="], "--param: not KEY=VALUE: 'depth='"),
])
def test_bad_features_and_params_are_usage_errors_naming_the_option_and_value(project: Path, args: list[str],
                                                                               message: str) -> None:
    assert refused(2, "register", "churn", "--artifact", "out/1/model.pkl", *args).startswith(f"Error: {message}")
    assert not (project / ".goldband" / "artifacts").exists()


# --------------------------------------------------------------------------- list and show


def test_list_shows_models_then_one_models_versions(project: Path) -> None:
    missing = refused(2, "list")  # an SQLite file not created yet, or a database holding no goldband store
    assert "no store here yet" in missing or "the database holds no goldband store yet" in missing
    open_store(store_of(project)).close()
    assert ok("list").startswith(f"no models registered in {store_of(project)} yet")  # a URL as written
    ok("register", "churn", "--artifact", "out/1/model.pkl")
    ok("register", "churn", "--artifact", "out/2/model.pkl")
    ok("promote", "churn", "1", "--reason", "initial")
    ok("register", "churn", "--artifact", "out/3/model.pkl")  # its parent: the version serving production
    ok("promote", "churn", "2", "--alias", "staging", "--reason", "try")
    ok("park", "churn", "3", "--reason", "worse")
    lines = ok("list").splitlines()
    assert lines[0].split() == ["model", "kind", "versions", "latest", "aliases", "created", "(UTC)"]
    assert lines[1].split()[:5] == ["churn", "classic", "3", "3", "production=1,"]
    assert as_json("list") == [{"name": "churn", "kind": "classic", "description": None,
                                "created_at": as_json("show", "churn:1")["created_at"], "created_by": "ana",
                                "versions": 3, "latest": "3", "aliases": {"production": "1", "staging": "2"}}]
    table = ok("list", "churn").splitlines()
    assert table[0].split() == ["version", "created", "(UTC)", "by", "artifact", "parent", "aliases", "parked"]
    assert table[1].split()[-3:] == ["-", "production", "-"] and table[3].split()[-3:] == ["1", "-", "parked"]
    rows = as_json("list", "churn")
    assert [(r["version"], r["aliases"], r["parked"], r["parent"]) for r in rows] == [
        ("1", ["production"], None, None), ("2", ["staging"], None, None), ("3", [], "worse", "1")]
    assert "unknown model 'nope'" in refused(2, "list", "nope")


def test_show_tells_everything_about_a_version(project: Path) -> None:
    ok("register", "churn", "--artifact", "out/1/model.pkl", "--data", "train.csv", "--param", "max_depth=6")
    ok("promote", "churn", "1", "--reason", "initial")
    ok("register", "churn", "--artifact", "out/2/model.pkl", "--feature", "tenure=numeric")
    gate = add_gate(project, "2", "1")
    out = ok("show", "churn:2")
    assert out.splitlines()[0] == "churn:2  (classic)"
    assert re.search(r"^  artifact    file: sha256 [0-9a-f]{64}, 9 B$", out, re.M)
    assert "  features    tenure=numeric" in out and "  parent      1" in out
    assert "  code        - (not registered from a git checkout)" in out
    gates = out.split("\ngates\n")[1].splitlines()
    assert gates[0].split() == ["gate", "against", "status", "decision", "policy", "started", "(UTC)", "reasons"]
    assert gates[1].split() == [f"#{gate}", "1", "complete", "pass", "superior", "2026-11-01", "00:00:00",
                                "roc_auc", "0.81", ">", "0.78"]
    served = ok("show", "churn")  # production
    assert served.splitlines()[0] == "churn:1  (classic)  production" and "2 rows" in served
    info = as_json("show", "churn@production")
    assert {"ref", "model_kind", "artifact_path", "aliases", "parked", "events", "gates", "verified"} <= set(info)
    assert info["ref"] == "churn:1" and info["aliases"] == ["production"] and info["verified"] is None
    assert [e["kind"] for e in info["events"]] == ["register", "promote"]
    assert Path(info["artifact_path"]).read_text() == "weights 1"
    assert as_json("show", "churn:2")["gates"][0]["id"] == gate
    assert "has no alias 'staging'" in refused(2, "show", "churn@staging")
    assert "has no version '9'" in refused(2, "show", "churn:9")


def test_show_verify_exits_1_when_the_artifact_changed(project: Path) -> None:
    ok("register", "churn", "--artifact", "out/1/model.pkl")
    assert ok("show", "churn:1", "--verify").splitlines()[-1] == \
        "artifact verified: its bytes match the registered sha256"
    path = Path(as_json("show", "churn:1")["artifact_path"])
    path.write_text("tampered")
    line = refused(1, "show", "churn:1", "--verify")
    assert line.startswith(f"Error: {path}: the artifact changed since it was registered")
    result = invoke("show", "churn:1", "--verify", "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["verified"] is False


# --------------------------------------------------------------------------- promote, rollback, park


def test_promote_needs_a_gate_after_the_first_and_force_is_recorded(project: Path) -> None:
    three_versions()
    assert ok("promote", "churn", "1", "--reason", "initial").strip() == \
        "promoted churn:1 to production (the first to serve)"
    line = refused(2, "promote", "churn", "2", "--reason", "better")
    assert line == ("Error: registry promote: version 2 of model 'churn' has no passing gate against version 1, "
                    "which serves now; fix: run `goldband gate churn 2` first, or pass --force (recorded)")
    gate = add_gate(project, "2", "1")
    assert ok("promote", "churn", "2", "--reason", "better", "--expect", "1").strip() == \
        f"promoted churn:2 to production (was 1; gate #{gate})"
    event = as_json("promote", "churn", "3", "--reason", "hotfix", "--force")
    assert {k: event[k] for k in ("kind", "alias", "from_version", "to_version", "actor", "reason", "forced")} == {
        "kind": "promote", "alias": "production", "from_version": "2", "to_version": "3", "actor": "ana",
        "reason": "hotfix", "forced": True}
    assert isinstance(event["id"], int) and event["evidence"] == {}
    assert "moved to version 3 while this promotion expected 2" in refused(
        2, "promote", "churn", "1", "--reason", "stale", "--force", "--expect", "2")
    result = invoke("promote", "churn", "1")
    assert result.exit_code == 2 and "Missing option '--reason'" in result.output  # click's own usage error


def test_park_then_promote_needs_force(project: Path) -> None:
    three_versions()
    ok("promote", "churn", "1", "--reason", "initial")
    assert ok("park", "churn", "2", "--reason", "worse on EU").strip() == "parked churn:2: worse on EU"
    assert "version 2 of model 'churn' is parked: worse on EU" in refused(2, "promote", "churn", "2",
                                                                         "--reason", "x")
    out = ok("park", "churn", "1", "--reason", "leaks PII")
    assert "it still serves as production: roll back with" in out
    event = as_json("park", "churn", "3", "--reason", "slow")
    assert (event["kind"], event["to_version"], event["alias"], event["reason"]) == ("park", "3", None, "slow")


def test_rollback_walks_back_and_refuses_when_nothing_is_earlier(project: Path) -> None:
    three_versions()
    for number in ("1", "2", "3"):
        ok("promote", "churn", number, "--reason", f"ship {number}", "--force")
    assert ok("rollback", "churn", "--reason", "complaints").strip() == "rolled back churn production: 3 → 2"
    event = as_json("rollback", "churn", "--reason", "still bad")
    assert (event["kind"], event["from_version"], event["to_version"]) == ("rollback", "2", "1")
    assert "no earlier production version to roll back to" in refused(2, "rollback", "churn", "--reason", "x")
    assert ok("rollback", "churn", "--to", "3", "--reason", "3 was fine").strip() == \
        "rolled back churn production: 1 → 3"
    assert "has never pointed at a version" in refused(2, "rollback", "churn", "--alias", "staging",
                                                       "--reason", "x")


# --------------------------------------------------------------------------- history, serving, diff


def test_history_is_the_event_log(project: Path) -> None:
    three_versions()
    ok("promote", "churn", "1", "--reason", "initial")
    ok("promote", "churn", "2", "--reason", "hotfix", "--force")
    lines = ok("history", "churn").splitlines()
    assert lines[0].split() == ["id", "time", "(UTC)", "kind", "alias", "from", "→", "to", "actor", "reason",
                                "evidence", "forced"]
    assert [line.split()[3] for line in lines[1:]] == ["register"] * 3 + ["promote"] * 2
    assert "production  1 → 2" in lines[5] and lines[5].endswith("forced") and "hotfix" in lines[5]
    assert "production  - → 1" in lines[4] and not lines[4].endswith("forced")
    short = ok("history", "churn", "--limit", "2").splitlines()
    assert len(short) == 4 and short[-1] == "(the last 2 of 5 events; --limit 5 shows all)"
    events = as_json("history", "churn", "--limit", "2")
    assert [(e["kind"], e["to_version"], e["forced"]) for e in events] == [("promote", "1", False),
                                                                          ("promote", "2", True)]
    assert "unknown model 'nope'" in refused(2, "history", "nope")


def _times(project: Path) -> list[str]:
    with open_store(store_of(project), create=False) as store:
        return [e.time for e in db.events(store.conn)]


def test_serving_answers_what_served_when_and_exits_1_for_nothing(project: Path) -> None:
    three_versions()
    result = invoke("serving", "churn")
    assert result.exit_code == 1 and result.stdout.strip() == "nothing serves churn as production (no promotion yet)"
    assert result.stderr == ""
    ok("promote", "churn", "1", "--reason", "initial")
    ok("promote", "churn", "2", "--reason", "better", "--force")
    registered, promoted_1, promoted_2 = (_times(project)[i] for i in (0, 3, 4))
    out = ok("serving", "churn").splitlines()
    assert out[0] == "churn:2 serves as production"
    assert out[1].startswith("  since ") and out[1].endswith("promote by ana: better (event #5)")
    assert ok("serving", "churn", "--at", promoted_1).startswith(f"churn:1 served as production at {promoted_1}")
    answer = as_json("serving", "churn", "--at", promoted_2)
    assert (answer["model"], answer["alias"], answer["at"]) == ("churn", "production", promoted_2)
    assert answer["version"]["ref"] == "churn:2" and answer["since"]["id"] == 5
    before = invoke("serving", "churn", "--at", "2000-01-01", "--json")
    assert before.exit_code == 1 and json.loads(before.stdout) == {
        "model": "churn", "alias": "production", "at": "2000-01-01", "version": None, "since": None}
    assert registered <= promoted_1
    assert "not a time: 'noon'" in refused(2, "serving", "churn", "--at", "noon")
    assert "unknown model 'nope'" in refused(2, "serving", "nope")


def test_diff_compares_two_versions_field_by_field(project: Path) -> None:
    ok("register", "churn", "--artifact", "out/1/model.pkl", "--param", "max_depth=6", "--param", "lr=0.1")
    ok("register", "churn", "--artifact", "out/2/model.pkl", "--param", "max_depth=8", "--param", "lr=0.1",
       "--feature", "tenure=numeric")
    out = ok("diff", "churn", "1", "2").splitlines()
    assert out[0].split() == ["field", "churn:1", "churn:2"]
    fields = {line.split()[0]: line.split()[1:] for line in out[1:]}
    assert fields["params.max_depth"] == ["6", "8"] and fields["features.tenure"] == ["-", "numeric"]
    assert {"artifact", "artifact_sha256"} <= set(fields) and "params.lr" not in fields
    answer = as_json("diff", "churn", "1", "2")
    assert answer["fields"]["params.max_depth"] == [6, 8] and (answer["a"], answer["b"]) == ("1", "2")
    ok("register", "churn", "--artifact", "out/2/model.pkl", "--param", "max_depth=8", "--param", "lr=0.1",
       "--feature", "tenure=numeric")
    assert ok("diff", "churn", "2", "3").strip() == \
        "churn:2 and churn:3 differ only in their version number and registration time"
    assert "has no version '7'" in refused(2, "diff", "churn", "1", "7")


# --------------------------------------------------------------------------- the store, the config, the process


def test_a_missing_store_is_a_usage_error_and_is_not_created(project: Path) -> None:
    line = refused(2, "list", "--store", "elsewhere/store.db")
    assert "no store here yet" in line
    assert not (project / "elsewhere").exists()


def test_the_artifact_folder_comes_from_goldband_yaml(project: Path) -> None:
    (project / "goldband.yaml").write_text("targets: {}\nregistry:\n  artifacts: models/store\n")
    row = as_json("register", "churn", "--artifact", "out/1/model.pkl")
    assert (project / "models" / "store" / (row["artifact"])).read_text() == "weights 1"
    assert as_json("show", "churn:1")["artifact_path"] == str(project / "models" / "store" / row["artifact"])


def test_the_registry_group_lists_its_commands() -> None:
    out = CliRunner().invoke(main, ["registry", "--help"]).output
    for name in ("register", "list", "show", "promote", "rollback", "history", "serving", "park", "diff"):
        assert re.search(rf"^  {name}\s", out, re.M), name


def test_a_registry_session_as_a_real_process(project: Path) -> None:
    def goldband(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "goldband", "registry", *args], cwd=project,
                              capture_output=True, text=True, timeout=60, env={**os.environ, "GOLDBAND_ACTOR": "ci"})

    first = goldband("register", "churn", "--artifact", "out/1/model.pkl", "--reason", "first")
    assert first.returncode == 0 and first.stdout.startswith("registered churn:1 (artifact sha256 ")
    assert goldband("promote", "churn", "1", "--reason", "initial").returncode == 0
    assert goldband("register", "churn", "--artifact", "out/2/model.pkl").returncode == 0
    refusal = goldband("promote", "churn", "2", "--reason", "no gate")
    assert refusal.returncode == 2 and refusal.stdout == ""
    assert refusal.stderr.count("\n") == 1 and refusal.stderr.startswith("Error: registry promote: version 2")
    served = goldband("serving", "churn", "--json")
    assert served.returncode == 0 and json.loads(served.stdout)["version"]["ref"] == "churn:1"
    assert json.loads(served.stdout)["since"]["actor"] == "ci"
    nothing = goldband("serving", "churn", "--alias", "staging")
    assert nothing.returncode == 1 and nothing.stdout.strip() == "nothing serves churn as staging (no promotion yet)"
