"""An llm model retrained by its pipeline: training writes target.yaml; the candidate is gated on the golden sets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from goldband.cli import main
from goldband.config.project import load_config
from goldband.engine.targets import build_targets, target_record
from goldband.registry.registry import Registry
from goldband.store import open_store
from goldband.store import registry as db
from registrykit import backend, store_path

WRITER = '''\
import shutil, sys, pathlib
out = pathlib.Path(sys.argv[1])
shutil.copy("prompts/support_v2.j2", out / "prompt.j2")
(out / "target.yaml").write_text(
    "name: support-v2\\nmodel: openai/gpt-4o-mini\\nprompt: prompt.j2\\n"
    "system: \\"You are the customer-support assistant of Northwind Shoes. Answer from the policy only.\\"\\n"
    "params: {temperature: 0.2, seed: 7, max_tokens: 300}\\napi_key_env: OPENAI_API_KEY\\n")
'''


@pytest.fixture
def llm_project(demo_project: Path, monkeypatch: pytest.MonkeyPatch, store_at: str) -> Path:
    """The bundled project with support as an llm model retrained by a script that writes support-v2's target."""
    (demo_project / "write_target.py").write_text(WRITER)
    config = yaml.safe_load((demo_project / "goldband.yaml").read_text())
    config["registry"] = {"models": {"support": {
        "kind": "llm", "target": "support-v1", "goldensets": ["support"], "runs": 12,
        "retrain": {"on": ["eval_drift"], "command": "{python} write_target.py {artifact_dir}"}}}}
    config["store"] = backend(store_at)  # the default file, or a PostgreSQL database
    (demo_project / "goldband.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    monkeypatch.chdir(demo_project)
    with open_store(store_path(demo_project)) as store:
        reg = Registry(store, root=demo_project)
        target = build_targets(load_config(demo_project)[0], demo_project, None)["support-v1"]
        reg.register("support", kind="llm", target=target_record(target))
        reg.promote("support", "1", force=True, reason="served before the registry")
    return demo_project


def test_an_llm_retrain_registers_the_written_target_and_gates_it_on_the_golden_sets(llm_project: Path) -> None:
    result = CliRunner().invoke(main, ["retrain", "run", "support", "--now", "--mode", "replay"])
    assert result.exit_code == 0, result.output
    assert "retrain #1 support: promoted support:2" in result.output
    with open_store(store_path(llm_project), create=False) as store:
        version = db.version(store.conn, "support", "2")
        gate = db.gates(store.conn, "support", "2")[-1]
    assert version is not None and version.target is not None and version.target["name"] == "support-v2"
    assert version.target["prompt_text"] == (llm_project / "prompts" / "support_v2.j2").read_text()
    assert version.params["retrain_request"] == 1 and version.artifact_kind == "none"
    assert (gate.kind, gate.status, gate.decision, gate.champion) == ("llm", "complete", "pass", "1")


def test_an_llm_training_that_writes_no_target_fails_clearly(llm_project: Path) -> None:
    (llm_project / "write_target.py").write_text(
        "import pathlib, sys\n(pathlib.Path(sys.argv[1]) / 'notes.txt').write_text('no target here')\n")
    result = CliRunner().invoke(main, ["retrain", "run", "support", "--now", "--mode", "replay"])
    assert result.exit_code == 1, result.output
    assert "retrain #1 support: failed" in result.output
    with open_store(store_path(llm_project), create=False) as store:
        request = db.request(store.conn, 1)
    assert request is not None and "wrote no target.yaml" in (request.reason or "")


def test_the_python_placeholder_is_this_interpreter(llm_project: Path) -> None:
    """{python} names the interpreter goldband runs in, whatever PATH says."""
    config = yaml.safe_load((llm_project / "goldband.yaml").read_text())
    config["registry"]["models"]["support"]["retrain"]["command"] = (
        "{python} -c \"import sys, pathlib; pathlib.Path('which.txt').write_text(sys.executable)\"")
    (llm_project / "goldband.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    CliRunner().invoke(main, ["retrain", "run", "support", "--now", "--mode", "replay"])
    assert Path((llm_project / "which.txt").read_text()) == Path(sys.executable)
