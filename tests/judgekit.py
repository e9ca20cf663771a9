"""Helpers for the judge tests: a temporary project, a run through ``goldband.run``, judge replies.

The target and the judge both talk to one loopback ``FakeOpenAI``; judge requests are
told apart by their system message (``JUDGE_MARK``), so tests count them exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import goldband
from goldband.results import ScoredTrial
from goldband.testing import FakeOpenAI, Reply

JUDGE_MARK = "impartial grader"
GRADE = 'Grade the block named "output"'  # only the judge's user message contains this

RUBRIC = """\
name: helpful
version: 1
description: Is the answer helpful to a shop customer?
scale: {min: 1, max: 5}
criteria:
  - name: correct
    weight: 2
    description: The answer is right.
    levels: {1: "wrong", 3: "partly right", 5: "right"}
  - name: clear
    weight: 1
    description: The answer is easy to follow.
    levels: {1: "muddled", 5: "clear"}
pass: 4
"""


def reply(correct: Any = 5, clear: Any = 5, **extra: Any) -> str:
    """A judge reply in the rubric's JSON shape (scores may be anything, to test validation)."""
    body = {"criteria": {"correct": {"reasoning": f"correct is {correct}", "score": correct},
                         "clear": {"reasoning": f"clear is {clear}", "score": clear}, **extra}}
    return json.dumps(body)


def project(root: Path, url: str, *, rubric: str = RUBRIC, cases: int = 1, runs: int = 1, mode: str = "live",
            judge_extra: str = "", case_extra: str = "", checks: str = "      - rubric: helpful\n",
            judge_client: str = "openai", judge_timeout: float = 5, judge_retries: int = 0) -> Path:
    (root / "goldensets").mkdir(exist_ok=True)
    (root / "rubrics").mkdir(exist_ok=True)
    (root / "rubrics" / "helpful.yaml").write_text(rubric)
    (root / "p.j2").write_text("Question: {{ question }}")
    (root / "goldband.yaml").write_text(
        f"mode: {mode}\nconcurrency: 8\n"
        f"targets:\n  t:\n    model: openai/fake-model\n    prompt: p.j2\n    api_base: {url}\n"
        f"    params: {{temperature: 0.7, seed: 11}}\n    timeout_s: 5\n    max_retries: 0\n"
        f"judge:\n  model: openai/judge-model\n  client: {judge_client}\n  api_base: {url}\n"
        f"  timeout_s: {judge_timeout}\n  max_retries: {judge_retries}\n  backoff_s: 0.01\n{judge_extra}")
    body = "".join(f"  - id: c{i}\n    input: {{question: q{i}}}\n{case_extra}    checks:\n{checks}"
                   for i in range(cases))
    (root / "goldensets" / "s.yaml").write_text(
        f"name: s\nversion: 1\ndefaults:\n  runs: {runs}\ncases:\n{body}")
    return root


def run(root: Path, mode: str | None = None, *, store: str = "off") -> dict[str, list[ScoredTrial]]:
    """Run the project's golden set with ``goldband.run`` (no store unless given); trials per case id."""
    result = goldband.run("goldensets/s.yaml", root=root, mode=mode, store=store)
    return {o.plan.case.id: o.trials for o in result.outcomes}


def judge_requests(server: FakeOpenAI) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if JUDGE_MARK in json.dumps(r.body)]


def target_requests(server: FakeOpenAI) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if JUDGE_MARK not in json.dumps(r.body)]


def serve(server: FakeOpenAI, judge: list[Reply | str], outputs: list[Reply | str] | None = None) -> None:
    """Judge rule first (its user message also holds the case input), then the target's."""
    server.add_rule(contains=GRADE, replies=judge)
    server.add_rule(contains="Question:", replies=outputs or ["Returns are accepted within 30 days."])


def rubric_score(trial: ScoredTrial) -> Any:
    return next(s for s in trial.scores if s.kind == "rubric")
