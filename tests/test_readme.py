"""Every ``goldband ...`` command in README.md's bash blocks runs, in order, in a copy of the demo project.

The copy is a git repository on branch ``main`` with an ``origin/main`` ref, so
commands that read git (compare, baselines) have what a real checkout has.
Exit status 0 or 1 is a result (1: some case failed); anything else, or a
traceback, means the README shows a command that does not work.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("goldband "):
                    commands.append(re.sub(r"\s+#\s.*$", "", part))
    return commands


def test_the_readme_shows_the_store_commands() -> None:
    shown = {" ".join(c.split()[:2]) for c in readme_commands()}
    assert {"goldband run", "goldband history", "goldband show", "goldband report", "goldband store",
            "goldband cache"} <= shown


@pytest.fixture
def demo(demo_project: Path) -> Path:
    tmp_path = demo_project
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "demo"],
                 ["update-ref", "refs/remotes/origin/main", "HEAD"]):
        subprocess.run([*git, *args], cwd=tmp_path, check=True, capture_output=True)
    return tmp_path


# Commands on the reader's own data (files and alert ids the demo project does not have): they must
# fail as one clean usage error naming what is missing, never with a traceback.
YOURS = ("data/churn_reference.csv", "predictions.csv", "labels.csv", "alerts ack 3",
         # the closed loop on your project (its registry models, versions and retrain requests)
         "out/model", "gate churn 4", "churn 4 --reason", 'rollback churn --reason "INC', "list churn",
         "diff churn", "churn --now", "approve 7",
         # production LLM traffic of the reader's own app (traces, feedback, reviews the demo has not)
         "traces support traces.jsonl", "--file fb.jsonl", "evaluate support", "--app support --out review.yaml",
         "accept review.yaml", "golden status goldensets/support.yaml",
         # importers, on the reader's own files
         "import openai-evals", "import promptfoo promptfooconfig.yaml", "import csv qa.csv",
         "import jsonl samples.jsonl")


def test_every_readme_command_runs(demo: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "GITHUB_STEP_SUMMARY": str(demo / "step-summary.md")}
    for name in ("CI", "GOLDBAND_STORE", "GOLDBAND_REPORT", "GOLDBAND_KIND", "GOLDBAND_RESUME"):
        env.pop(name, None)
    for command in readme_commands():
        out = subprocess.run(["bash", "-c", command], cwd=demo, env=env, capture_output=True, text=True,
                             timeout=300)
        shown = f"$ {command}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        if any(mine in command for mine in YOURS):
            assert out.returncode == 2 and out.stderr.startswith("Error: "), shown
        else:
            assert out.returncode in (0, 1), shown
        assert "Traceback" not in out.stdout + out.stderr, shown
    assert (demo / "step-summary.md").read_text().startswith("### goldband")
    assert (demo / "reports" / "latest" / "report.html").is_file()


def test_the_readme_python_api_example_runs(demo_project: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The example under 'Running golden sets from Python' prints what its comments say, and records nothing."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Running golden sets from Python", 1)[1]
    block = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    monkeypatch.chdir(demo_project)
    exec(compile(block, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    said = [re.search(r"#\s*([^:]+?)(:|$)", line).group(1).strip() for line in block.splitlines()
            if line.startswith("print(") and "#" in line]
    assert printed[:2] == said, (printed, said)
    assert any("discount-injection" in line and "FAIL" in line for line in printed[2:])
    assert not (demo_project / ".goldband").exists()


def test_the_readme_golden_set_example_can_pass(tmp_path: Path) -> None:
    """The first golden set the README shows: every case's runs can reach PASS under its own band."""
    from goldband.bands.decide import decide, min_runs_to_pass
    from goldband.golden.goldenset import load

    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Writing a golden set", 1)[1]
    block = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)[0]
    (tmp_path / "goldensets").mkdir()
    (tmp_path / "goldensets" / "support.yaml").write_text(block)
    for case in load(tmp_path / "goldensets" / "support.yaml", base_dir=tmp_path).cases:
        band, runs = case.band, case.runs.max
        assert runs >= min_runs_to_pass(min_pass_rate=band.min_pass_rate, confidence=band.confidence), case.id
        assert decide(runs, runs, min_pass_rate=band.min_pass_rate, confidence=band.confidence).verdict == "PASS"
