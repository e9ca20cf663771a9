"""Conversation cases (``turns:``) in a real pytest run (pytester) against the loopback FakeOpenAI:
verdicts per conversation, a failing turn named in the failure report, and the turns in the HTML report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from goldband.testing import FakeOpenAI

pytestmark = pytest.mark.filterwarnings("error")

CASES = """  - id: chat
    input: {topic: owls}
    checks: [{contains: "Third"}]
    turns:
      - "Tell me about {{ topic }}"
      - {user: "Second question", checks: [{contains: "Second"}]}
      - "Third question"
  - id: drifts
    input: {topic: owls}
    checks: [{contains: "echo"}]
    turns:
      - "Hello"
      - {user: "Now answer the follow-up", checks: [{contains: "follow-up done"}]}
"""


def project(root: Path, url: str) -> None:
    (root / "goldensets").mkdir()
    (root / "goldband.yaml").write_text(
        f"mode: live\ntargets:\n  t:\n    model: openai/fake-model\n    api_base: {url}\n"
        "    messages: [{role: system, content: 'You know {{ topic }}.'}]\n"
        "    params: {temperature: 0.7}\n    timeout_s: 5\n    max_retries: 0\n")
    (root / "goldensets" / "talk.yaml").write_text(
        "name: talk\nversion: 1\ndefaults:\n  runs: 4\n  band: {min_pass_rate: 0.5, confidence: 0.9}\ncases:\n" + CASES)


@pytest.fixture
def ran(pytester: pytest.Pytester, openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    for name in ("CI", "GOLDBAND_STORE", "GOLDBAND_REPORT", "GOLDBAND_MODE", "GOLDBAND_RUNS", "GOLDBAND_TARGET"):
        monkeypatch.delenv(name, raising=False)
    project(pytester.path, openai_server.url)
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")


def test_a_conversation_is_one_item_whose_failing_turn_is_named(ran: pytest.RunResult,
                                                               openai_server: FakeOpenAI) -> None:
    ran.assert_outcomes(passed=1, failed=1)
    out = ran.stdout.str()
    assert 'turn 2: contains "follow-up done"' in out
    third = [r.body["messages"] for r in openai_server.requests if len(r.body["messages"]) == 6]
    assert len(third) == 4 and third[0][4] == {"role": "assistant", "content": "echo: Second question"}


def test_the_html_report_shows_the_conversation_turn_by_turn(ran: pytest.RunResult,
                                                            pytester: pytest.Pytester) -> None:
    page = (pytester.path / "reports" / "latest" / "report.html").read_text(encoding="utf-8")
    assert "conversation: 2 earlier replies fed back" in page
    turns = re.findall(r'data-role="(\w+)" data-turn="(\d)"><small class="role">turn \d · \w+</small><pre>([^<]*)',
                       page)
    assert ("assistant", "1", "echo: Tell me about owls") in turns
    assert ("user", "3", "Third question") in turns
    assert "echo: Third question" in page  # the final reply: the trial's output


def test_goldband_show_prints_each_turn(ran: pytest.RunResult, pytester: pytest.Pytester) -> None:
    shown = pytester.run("goldband", "show", "latest", "talk::drifts")
    out = shown.stdout.str()
    assert "turn 1  latency" in out and "user: Hello" in out and "reply: echo: Hello" in out
    assert "reply: echo: Now answer the follow-up" in out
    assert 'x turn 2: contains "follow-up done"' in out
