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
BROKEN = {"answer": "I am not sure."}  # what v2 says on the cases it breaks (a test may make it hostile)


def reply(body: dict[str, Any], choice: int, number: int) -> str:
    """v1 answers every case; v2 ('terse') breaks the refund and shipping cases."""
    text = body["messages"][-1]["content"]
    broken = "terse" in text and any(f"about {c}" in text for c in ("refund", "shipping"))
    return BROKEN["answer"] if broken else "Here is the policy answer: ok."


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
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD~1", "--head", "HEAD", "--runs", "10"])
    assert result.exit_code == 1, result.output
    out = result.output
    assert "6 cases: 2 regressed, 4 not significant" in out
    assert "a fixed 10 trials a side (--runs)" in out and "targets changed: bot" in out
    assert "support::refund" in out and "support::shipping" in out and "support::gift" not in out
    assert "10/10 (1.00)  0/10 (0.00)  -1.00" in out
    markdown = (repo / "reports" / "compare.md").read_text()
    assert "**2 significant regressions**" in markdown and "| `support::refund` | bot |" in markdown
    assert summary.read_text().startswith("earlier step\n### goldband pre-merge check")
    # both sides went through one engine: 6 cases x 2 sides, n=10 in one request each
    assert server.count == 12
    assert {r.body["n"] for r in server.requests} == {10}


def test_the_pr_comment_says_which_check_failed_and_what_the_model_said(repo: Path) -> None:
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD~1", "--head", "HEAD", "--runs", "6"])
    assert result.exit_code == 1, result.output
    markdown = (repo / "reports" / "compare.md").read_text()
    row = next(line for line in markdown.splitlines() if line.startswith("| `support::refund`"))
    assert 'contains "policy"' in row and "(6/6 trials)" in row and "“I am not sure.”" in row
    assert "why (head)" in markdown
    assert 'contains "policy"' in result.stdout and "I am not sure." in result.stdout  # the terminal too


def test_a_hostile_output_cannot_break_the_pr_comment(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gfmkit

    monkeypatch.setitem(BROKEN, "answer", "a | b\n\n# Heading [click](https://evil.example) ![i](https://x.example/i.png)"
                                          " <script>alert(1)</script> <https://auto.example> https://bare.example")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD~1", "--head", "HEAD", "--runs", "6"])
    assert result.exit_code == 1, result.output
    markdown = (repo / "reports" / "compare.md").read_text()
    (table,) = gfmkit.tables(markdown)
    assert {len(row) for row in table} == {9}  # the model's pipes and newlines made no extra cell or row
    assert len(table) == 3 and "a | b" in table[1][8]
    html = gfmkit.render(markdown)
    assert "<script" not in html and "<img" not in html and "<h1" not in html
    assert html.count("<a ") == 1 and 'href="https://github.com/o/r/actions/runs/42"' in html  # only our link


def test_an_unchanged_target_is_not_run_and_is_unchanged_by_construction(repo: Path, server: FakeOpenAI) -> None:
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD", "--head", "HEAD"])
    assert result.exit_code == 0, result.output
    assert "6 cases: 6 same content" in result.output and "targets changed: none" in result.output
    assert "6 case(s) not run: the same request on both sides" in result.output
    assert server.count == 0  # nothing was sent: no cost, no chance of a false alarm
    markdown = (repo / "reports" / "compare.md").read_text()
    assert "no significant regression" in markdown and "6 unchanged (same content) not shown" in markdown


def test_rerun_unchanged_runs_them_and_calls_no_difference_a_regression(repo: Path, server: FakeOpenAI) -> None:
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD", "--head", "HEAD", "--rerun-unchanged",
                                       "--runs", "5", "-v"])
    assert result.exit_code == 0, result.output
    assert "6 cases: 6 not significant" in result.output
    assert "0/5 (0.00)  0/5 (0.00)  +0.00        [-0.43, +0.43]" in result.stdout  # the interval is shown
    assert server.count == 12


def test_only_the_changed_target_runs(repo: Path, server: FakeOpenAI) -> None:
    config = (repo / "goldband.yaml").read_text()
    chat = (f"  chat:\n    model: openai/fake-chat\n    prompt: prompts/bot.j2\n    system: You are kind.\n"
            f"    api_base: {server.url}\n")
    (repo / "goldband.yaml").write_text(config + chat)
    git(repo, "commit", "-qam", "a second target")
    text = (repo / "goldband.yaml").read_text().replace("temperature: 0.5", "temperature: 0.7")  # bot only
    (repo / "goldband.yaml").write_text(text)
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD", "--runs", "4"])
    assert result.exit_code == 0, result.output
    assert "targets changed: bot" in result.output and "12 cases: 6 not significant, 6 same content" in result.output
    assert {r.body["model"] for r in server.requests} == {"fake"}  # chat was never called
    assert server.count == 12


def test_the_planned_n_is_said_and_used(repo: Path, server: FakeOpenAI) -> None:
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD~1", "--head", "HEAD", "--detect", "0.5"])
    assert result.exit_code == 1, result.output
    assert ("a fixed N planned from each band and a drop of 0.5: 19 trials a side: a drop from 0.75 to 0.25 "
            "is found with 80% power per case") in result.output
    assert {r.body["n"] for r in server.requests} == {19}


def test_adaptive_repeats_are_corrected_for_their_stopping_points(repo: Path) -> None:
    text = (repo / "goldensets" / "support.yaml").read_text().replace("runs: 10", "min_runs: 3\n  max_runs: 12")
    (repo / "goldensets" / "support.yaml").write_text(text)
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD~1", "--adaptive", "-v"])
    assert result.exit_code == 1, result.output
    assert "ran their own adaptive repeats" in result.output
    assert "* a side stopped adaptively: p multiplied by its possible stopping points" in result.output


def test_both_sides_are_recorded_as_pre_merge_runs_with_a_report(repo: Path, store_at: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from goldband.store import open_store

    store_option = ["--store", store_at] if store_at.startswith("postgresql://") else []  # SQLite: the default file
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD~1", "--head", "HEAD", "--runs", "4", *store_option])
    assert result.exit_code == 1, result.output
    if store_option:
        assert not list(repo.rglob("postgresql*"))  # the URL never became a folder, nor a file
        monkeypatch.setenv("GOLDBAND_STORE", store_at)  # for `goldband history` below
    with open_store(store_at if store_option else repo / ".goldband" / "store.db") as store:
        runs = store.runs(limit=5)
        assert [r.kind for r in runs] == ["pre-merge", "pre-merge"]
        assert {r.git_branch for r in runs} == {"HEAD", "HEAD~1"} and all(r.status == "complete" for r in runs)
        head = next(r for r in runs if r.git_branch == "HEAD")
        verdicts = store.verdicts(head.id)
    deltas = {k[1]: v.verdict.baseline for k, v in verdicts.items()}
    assert deltas["refund"] is not None and deltas["refund"].outcome == "regressed"
    assert deltas["gift"] is not None and deltas["gift"].outcome == "not significant"
    html = (repo / "reports" / head.id / "report.html").read_text()
    assert "refund" in html and "regressed" in html
    assert f"head recorded as run {head.id} (pre-merge)" in result.output
    history = CliRunner().invoke(main, ["history"])
    assert head.id in history.output and "pre-merge" in history.output


def test_a_lost_store_write_exits_3_never_0(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from goldband.session import writer

    def malformed(*args: object, **kwargs: object) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(writer, "insert_trial_batches", malformed)
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD~1", "--head", "HEAD", "--runs", "2"])
    assert result.exit_code == 3, result.output  # the regressions were found, but the record is not whole
    assert "store writes lost (exit status 3: goldband failed, not the model)" in result.stderr


def test_progress_goes_to_stderr(repo: Path) -> None:
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD~1", "--head", "HEAD", "--runs", "2"])
    assert "goldband compare: 24 trials planned" in result.stderr
    assert "goldband compare: 24/24 trials" in result.stderr
    quiet = CliRunner().invoke(main, ["compare", "--base", "HEAD~1", "--runs", "2", "--no-progress"])
    assert "trials planned" not in quiet.stderr


def test_the_working_tree_is_the_default_head(repo: Path) -> None:
    (repo / "prompts" / "bot.j2").write_text("Answer the question about {{ topic }}.")  # uncommitted revert
    result = CliRunner().invoke(main, ["compare", "--base", "HEAD", "--runs", "10"])
    assert result.exit_code == 0, result.output  # improvements never fail the check
    assert "-> working tree @" in result.output and "6 cases: 2 improved, 4 not significant" in result.output


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


def test_a_callable_target_reruns_when_any_tracked_python_file_changed(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A callable's own source is in its hash; what it calls is not, so any *.py change means run it."""
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "goldband.yaml").write_text("targets:\n  app:\n    callable: app:answer\n")
    (tmp_path / "app.py").write_text("from helper import WORDS\n\n\ndef answer(case_input):\n    return WORDS\n")
    (tmp_path / "helper.py").write_text("WORDS = 'the policy says yes'\n")
    (tmp_path / "goldensets").mkdir()
    (tmp_path / "goldensets" / "s.yaml").write_text(
        "name: s\nversion: 1\ndefaults:\n  checks: [{contains: 'policy'}]\ncases:\n  - id: a\n    input: {q: x}\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    same = CliRunner().invoke(main, ["compare", "--base", "HEAD", "--runs", "2"])
    assert same.exit_code == 0 and "1 cases: 1 same content" in same.output, same.output
    (tmp_path / "helper.py").write_text("WORDS = 'no idea'\n")  # the callable's own source is unchanged
    changed = CliRunner().invoke(main, ["compare", "--base", "HEAD", "--runs", "2", "-v"])
    assert changed.exit_code == 0 and "1 cases: 1 not significant" in changed.output, changed.output
    assert "2/2 (1.00)  0/2 (0.00)" in changed.stdout  # each side ran its own helper.py


def test_mode_cached_keeps_its_samples_in_the_project_for_the_next_compare(repo: Path, server: FakeOpenAI) -> None:
    """Each ref runs from a temporary copy; the samples cache is the project's, so a CI job that restores
    .goldband/cache (actions/cache) calls the model only for what changed since the last compare."""
    args = ["compare", "--base", "HEAD~1", "--head", "HEAD", "--runs", "10", "--mode", "cached"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 1, first.output
    called = server.count
    assert called == 12 and any((repo / ".goldband" / "cache").rglob("*.jsonl"))
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1, again.output
    assert server.count == called  # every sample came from the project's cache
