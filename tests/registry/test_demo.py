"""The closed loop's demo as a newcomer runs it (``goldband loop demo``): the story's facts, offline, in seconds.

The demo runs once in this process (with every outgoing network connection refused) and once as a real
subprocess through the command line; the tests read what it recorded in its own store and files.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from goldband.config.project import load_config
from goldband.registry.demo import LoopDemoResult, run_loop_demo
from goldband.registry.demofolder import MARKER, prepare
from goldband.registry.registry import Registry
from goldband.store import open_store
from goldband.store import registry as db

SECONDS = 20  # "in seconds": the whole story, both sides, on a 2-core machine


@pytest.fixture(scope="module")
def offline() -> Iterator[None]:
    """Any socket connection but a Unix one is refused: the demo must not need a network."""
    def refuse(self: socket.socket, address: Any) -> None:
        if self.family != socket.AF_UNIX:
            raise OSError(f"the loop demo tried to connect to {address!r}")
        real(self, address)

    real = socket.socket.connect
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        yield


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, offline: None) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("loop") / "demo"
    lines: list[str] = []
    started = time.perf_counter()
    try:
        result = run_loop_demo(folder, echo=lines.append)
    finally:  # the demo imported its copy of examples.churn: leave no trace for other tests' projects
        for name in [n for n in sys.modules if n == "examples" or n.startswith("examples.")]:
            del sys.modules[name]
        if str(folder.resolve()) in sys.path:
            sys.path.remove(str(folder.resolve()))
    seconds = time.perf_counter() - started
    with open_store(result.store, create=False) as store:
        registry = Registry(store, root=folder)
        recorded = {"history": {m: registry.history(m) for m in ("churn", "support")},
                    "versions": {m: [v.version for v in db.versions(store.conn, m)] for m in ("churn", "support")},
                    "requests": db.requests(store.conn, "churn"),
                    "parked": {m: {v: registry.parked(m, v) for v in ("1", "2", "3")} for m in ("churn",)}}
    return {"result": result, "text": "\n".join(lines), "seconds": seconds, **recorded}


def test_it_runs_offline_in_seconds(demo: dict[str, Any]) -> None:
    assert demo["seconds"] < SECONDS


def test_three_churn_versions_two_support_versions_and_the_aliases_at_the_end(demo: dict[str, Any]) -> None:
    result: LoopDemoResult = demo["result"]
    assert demo["versions"] == {"churn": ["1", "2", "3"], "support": ["1", "2"]}
    assert result.aliases == {"churn": {"production": "1"}, "support": {"production": "2"}}
    moves = [(e.kind, e.from_version, e.to_version) for e in demo["history"]["churn"] if e.alias == "production"]
    assert moves == [("promote", None, "1"), ("promote", "1", "2"), ("rollback", "2", "1")]


def test_a_concept_drift_alert_queued_the_retrain_that_made_v2(demo: dict[str, Any]) -> None:
    alert = demo["result"].trigger_alert
    assert alert["rule"] == "churn-concept" and alert["metric"] == "concept_drift"
    assert "while features did not move: concept drift" in alert["summary"]
    first, second, third = demo["requests"]
    assert (first.trigger, first.status, first.candidate) == ("manual", "promoted", "1")
    assert (second.trigger, second.alert_id, second.status, second.candidate) == ("alert", alert["id"], "promoted", "2")
    assert (third.trigger, third.status, third.candidate) == ("manual", "parked", "3")
    promoted = next(e for e in demo["history"]["churn"] if e.kind == "promote" and e.to_version == "2")
    assert promoted.evidence["alert"] == alert["id"] and promoted.evidence["retrain_request"] == second.id


def test_v2_was_gated_against_v1_on_the_changed_worlds_holdout_and_fresh_rows(demo: dict[str, Any]) -> None:
    first, second, third = demo["result"].gates
    assert (first.champion, first.decision) == (None, "pass")
    assert first.eval_set["version"] == "1" and first.eval_set["fresh"] == 0
    assert (second.champion, second.decision) == ("1", "pass")
    assert second.eval_set["version"] == "2" and (second.eval_set["rows"], second.eval_set["fresh"]) == (2000, 500)
    assert second.metrics["roc_auc"]["low"] > 0.01  # significantly better on the primary metric
    assert (third.champion, third.decision) == ("2", "fail")


def test_the_sabotaged_v3_stays_parked_with_its_reasons(demo: dict[str, Any]) -> None:
    why = demo["parked"]["churn"]["3"]
    assert why is not None and why.startswith("gate: roc_auc: candidate") and "below the floor 0.7" in why
    assert demo["parked"]["churn"]["1"] is None and demo["parked"]["churn"]["2"] is None
    assert demo["result"].parked["churn:3"] == why
    assert "CHURN_SABOTAGE" not in os.environ  # set for the training subprocess only


def test_the_rollback_was_timed_and_recorded_with_its_reason(demo: dict[str, Any]) -> None:
    result: LoopDemoResult = demo["result"]
    assert result.rollback_seconds is not None and 0 < result.rollback_seconds < 1
    rollback = demo["history"]["churn"][-1]
    assert rollback.kind == "rollback" and rollback.reason and rollback.reason.startswith("INC-3107")
    assert f"rollback churn production 2 -> 1 in {result.rollback_seconds * 1000:.1f} ms end to end" in demo["text"]


def test_the_llm_side_gates_a_prompt_change_on_the_bundled_golden_set(demo: dict[str, Any]) -> None:
    first, second = demo["result"].llm_gates
    assert not first.passed and first.champion is None
    assert "support::discount-injection FAIL, support::express-shipping ERROR" in first.reasons[0]
    assert second.passed and second.champion == "1" and second.metrics["changes"]["improved"] == 2
    assert second.metrics["verdicts"].get("FAIL", 0) == 0 and second.metrics["verdicts"].get("ERROR", 0) == 0
    forced = [e for e in demo["history"]["support"] if e.kind == "promote"]
    assert [(e.to_version, e.forced) for e in forced] == [("1", True), ("2", False)]
    assert forced[0].reason and "support-v2 is the fix" in forced[0].reason


def test_the_notifications_file_heard_every_move(demo: dict[str, Any]) -> None:
    sent = [json.loads(line) for line in demo["result"].notifications.read_text().splitlines()]
    assert [(s["source"], s["metric"]) for s in sent] == [
        ("registry", "promoted"), ("classic-ml", "concept_drift"), ("registry", "promoted"), ("registry", "parked"),
        ("registry", "rollback"), ("registry", "promote"), ("registry", "promote")]


def test_the_demo_folder_is_a_valid_goldband_project(demo: dict[str, Any]) -> None:
    folder = demo["result"].directory
    config = load_config(folder)[0]
    churn = config.registry.models["churn"]
    assert churn.retrain is not None and "concept_drift" in churn.retrain.on and churn.eval is not None
    assert churn.predict == "examples.churn.model:predict" and churn.eval.fresh == 500
    assert config.registry.models["support"].kind == "llm" and set(config.targets) == {"support-v1", "support-v2"}
    assert "churn" in config.monitors.models and config.alerts.rules
    assert (folder / MARKER).is_file() and (folder / "examples" / "churn" / "train.py").is_file()
    assert sorted(p.name for p in (folder / ".goldband" / "retrain").iterdir()) == ["1", "2", "3"]


def test_the_demo_refuses_a_directory_it_did_not_write(tmp_path: Path) -> None:
    from goldband.errors import UsageError

    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(UsageError, match="the directory is not empty"):
        run_loop_demo(tmp_path, echo=lambda _: None)
    assert (tmp_path / "mine.txt").read_text() == "keep me" and not (tmp_path / MARKER).exists()
    again = tmp_path / "again"
    prepare(again)
    (again / "old-output.txt").write_text("from a previous demo")
    assert prepare(again) == again.resolve() and not (again / "old-output.txt").exists()  # its own: started over


@pytest.fixture(scope="module")
def command(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``goldband loop demo`` as users type it: a process of its own, with any HTTP request sent to a dead proxy."""
    dead = "http://127.0.0.1:9"
    env = {**os.environ, "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "ALL_PROXY": dead, "NO_PROXY": "",
           "OPENAI_API_KEY": "", "LITELLM_OFFLINE_MODE": "true"}
    here = tmp_path_factory.mktemp("command")
    folder = here / "loop-demo"
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "goldband", "loop", "demo", "--dir", str(folder)], cwd=here,
                         env=env, capture_output=True, text=True, timeout=120)
    return {"out": out, "seconds": time.perf_counter() - started, "folder": folder}


def test_goldband_loop_demo_as_a_command(command: dict[str, Any]) -> None:
    out, folder = command["out"], command["folder"]
    assert out.returncode == 0, out.stdout + out.stderr
    assert command["seconds"] < SECONDS + 5  # process start and the history tables included
    text = out.stdout
    for seen in ("ALERT #1 churn-concept (critical)", "-> retrain #2 queued by the alert",
                 "gate #2   churn:2 against churn:1", "decide    PROMOTED: churn@production -> 2",
                 "decide    PARKED: gate: roc_auc", "ms end to end", "decide    PROMOTED: support@production -> 2",
                 f"$ goldband registry history churn --store {folder.resolve() / '.goldband' / 'store.db'}"):
        assert seen in text, text
    history = text.split("$ goldband registry history churn", 1)[1].split("$ goldband registry history support")[0]
    assert [line.split()[3] for line in history.splitlines()[2:] if line.strip()] == [
        "register", "promote", "register", "promote", "register", "park", "rollback"]
    assert "Traceback" not in out.stderr


# --------------------------------------------------------------------------- the README's closed loop

README = Path(__file__).resolve().parents[2] / "README.md"


def _closed_loop_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("## The closed loop: registry, gate, retrain, rollback", 1)[1].split("\n## ", 1)[0]


def test_the_readme_transcript_is_what_the_demo_prints(command: dict[str, Any]) -> None:
    """Every line of the README's abbreviated transcript is a line the demo prints (times and elisions aside)."""
    found = re.search(r"\n```\n(day  what happened\n.*?)```", _closed_loop_section(), flags=re.S)
    assert found is not None
    shown = [line.rstrip() for line in found.group(1).splitlines()
             if line.strip() and "..." not in line and " s (log " not in line and " ms end to end" not in line
             and not line.startswith("$ ")]
    printed = {line.rstrip() for line in command["out"].stdout.splitlines()}
    assert len(shown) > 20 and [line for line in shown if line not in printed] == []


def test_the_readme_registry_configuration_validates() -> None:
    import yaml

    from goldband.config.project import TargetConfig
    from goldband.config.registry import RegistryConfig

    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", _closed_loop_section(), flags=re.S)]
    registry = RegistryConfig.model_validate(blocks[0]["registry"])
    assert registry.models["churn"].retrain is not None and registry.models["support"].kind == "llm"
    assert TargetConfig.model_validate(blocks[1]["targets"]["support-prod"]).registry == "support@production"


def test_the_readme_python_example_resolves_what_the_demo_left_serving(demo: dict[str, Any],
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """README's 'From Python' block, run beside the demo's folder, prints what its comment says."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "Registry(store)" in b]
    folder: Path = demo["result"].store.parent.parent
    monkeypatch.chdir(folder.parent)
    exec(compile(block.replace("loop-demo/", f"{folder.name}/"), "README.md", "exec"), {})
    said = block.strip().splitlines()[-1].split("#", 1)[1].strip().split(": ")[0]  # churn:1 ['weights.json']
    assert capsys.readouterr().out.strip() == said
