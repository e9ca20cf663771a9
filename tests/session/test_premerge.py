"""``goldband compare`` on a temporary git repository with two prompt versions.

The targets call a loopback OpenAI-compatible server whose replies depend on
the prompt text, so the head's prompt really regresses some cases.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.testing import FakeOpenAI

CASES = ["refund", "shipping", "exchange", "gift", "damage", "sale"]


def reply(body: dict[str, Any], choice: int, number: int) -> str:
    """v1 answers every case; v2 ('terse') breaks the refund and shipping cases."""
    text = body["messages"][-1]["content"]
    broken = "terse" in text and any(f"about {c}" in text for c in ("refund", "shipping"))
    return "I am not sure." if broken else "Here is the policy answer: ok."


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(script=reply) as s:
        yield s


@pytest.fixture
def repo(tmp_path: Path, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "goldensets").mkdir()
    (tmp_path / "goldband.yaml").write_text(
        f"mode: live\ntargets:\n  bot:\n    model: openai/fake\n    prompt: prompts/bot.j2\n"
        f"    api_base: {server.url}\n    params: {{temperature: 0.5, seed: 1}}\n")
    cases = "".join(f"  - id: {c}\n    input: {{topic: {c}}}\n" for c in CASES)
    (tmp_path / "goldensets" / "support.yaml").write_text(
        "name: support\nversion: 1\ndefaults:\n  runs: 10\n  band: {min_pass_rate: 0.5}\n"
        f"  checks: [{{contains: 'policy'}}]\ncases:\n{cases}")
    (tmp_path / "prompts" / "bot.j2").write_text("Answer the question about {{ topic }}.")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    (tmp_path / "prompts" / "bot.j2").write_text("Be terse. Answer the question about {{ topic }}.")
    git(tmp_path, "commit", "-qam", "v2: terse prompt")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


def test_a_regressing_prompt_change_exits_1_with_per_case_deltas(repo: Path, server: FakeOpenAI,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    summary = repo / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD~1", "--head", "HEAD"])
    assert result.exit_code == 1, result.output
    out = result.output
    assert "6 cases: 2 regressed, 4 unchanged" in out
    assert "support::refund" in out and "support::shipping" in out and "support::gift" not in out
    assert "10/10 (1.00)  0/10 (0.00)  -1.00" in out
    markdown = (repo / "reports" / "compare.md").read_text()
    assert "**2 significant regressions**" in markdown and "| `support::refund` | bot |" in markdown
    assert summary.read_text().startswith("earlier step\n### goldband pre-merge check")
    # both sides went through one engine: 6 cases x 2 sides, n=10 in one request each
    assert server.count == 12
    assert {r.body["n"] for r in server.requests} == {10}


def test_an_unchanged_prompt_exits_0(repo: Path) -> None:
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD", "--head", "HEAD"])
    assert result.exit_code == 0, result.output
    assert "6 cases: 6 unchanged" in result.output
    assert "no significant regression" in (repo / "reports" / "compare.md").read_text()


def test_the_working_tree_is_the_default_head(repo: Path) -> None:
    (repo / "prompts" / "bot.j2").write_text("Answer the question about {{ topic }}.")  # uncommitted revert
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD"])
    assert result.exit_code == 0, result.output  # improvements never fail the check
    assert "-> working tree @" in result.output and "6 cases: 2 improved, 4 unchanged" in result.output


def test_against_a_baseline_file_without_rerunning_the_base(repo: Path, server: FakeOpenAI) -> None:
    rows = [{"goldenset": "support", "case": c, "target": "bot", "n": 10, "passes": 10, "errors": 0, "scores": []}
            for c in CASES]
    (repo / "baseline.json").write_text(json.dumps({"goldband_baseline": 1, "source": "test", "cases": rows}))
    result = CliRunner().invoke(main, ["compare", "--baseline", "baseline.json"])
    assert result.exit_code == 1, result.output
    assert "2 regressed" in result.output
    assert server.count == 6  # only the head ran


@pytest.mark.parametrize(("args", "message"), [
    (["--base", "nope"], "git ref 'nope' does not exist"),
    (["--base", "HEAD", "--baseline", "x.json"], "give exactly one of --base REF"),
    (["--baseline", "missing.json"], "cannot read baseline file"),
])
def test_bad_input_exits_2_with_one_message(repo: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["compare", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_base_ref_without_the_prompt_file_is_named(repo: Path) -> None:
    git(repo, "mv", "prompts/bot.j2", "prompts/bot2.j2")
    text = (repo / "goldband.yaml").read_text().replace("bot.j2", "bot2.j2")
    (repo / "goldband.yaml").write_text(text)
    git(repo, "commit", "-qam", "rename prompt")
    git(repo, "rm", "-q", "prompts/bot2.j2")
    git(repo, "commit", "-qm", "lose the prompt")
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD", "--head", "HEAD~1"])
    assert result.exit_code == 2, result.output
    assert "base HEAD: " in result.output and "cannot read prompt template prompts/bot2.j2" in result.output
