"""Trials shaped for reading: identical outputs once with a count, tool calls and messages as sent."""

from __future__ import annotations

from goldband.report.outputs import arguments, group_outputs, messages_sent
from goldband.results import Completion, Score, ScoredTrial, ToolCall, Trial
from goldband.store import Rendering


def trial(sample: int, output: str | None, *calls: ToolCall, ok: bool = True, error: str | None = None,
          latency: float = 100.0) -> ScoredTrial:
    if error is not None:
        return ScoredTrial(Trial("c", "t", sample, None, error=error, error_kind="timeout"))
    completion = Completion(output, tuple(calls), cost_usd=0.001, latency_ms=latency)
    score = Score("tool_call lookup", "pass" if ok else "fail", 1.0 if ok else 0.0, "" if ok else "wrong id")
    return ScoredTrial(Trial("c", "t", sample, completion, cached=True), (score,))


def test_identical_outputs_and_tool_calls_are_one_group_with_a_count() -> None:
    call = ToolCall("lookup", {"id": "A-17", "fields": ["eta"]})
    same = ToolCall("lookup", {"fields": ["eta"], "id": "A-17"})  # same arguments, other key order
    trials = [trial(0, None, call), trial(1, "Sorry.", ok=False), trial(2, None, same, latency=300.0),
              trial(3, None, ToolCall("lookup", {"id": "B-2"}), ok=False), trial(4, None, call),
              trial(5, None, error="timeout: no reply"), trial(6, "Sorry.", ok=False),
              trial(7, None, error="timeout: no reply")]
    groups = group_outputs(trials)
    assert [(g.count, g.samples, g.outcomes) for g in groups] == [
        (3, "0, 2, 4", "3 pass"), (2, "1, 6", "2 fail"), (1, "3", "1 fail"), (2, "5, 7", "2 error")]
    calls, sorry, _, errors = groups
    assert calls.tool_calls == (call,) and calls.latency_ms == 100.0 and calls.cost_usd == 0.003 and calls.cached
    assert calls.score == 1.0 and calls.outcome == "pass" and sorry.outcome == "fail" and errors.outcome == "error"
    assert [s.detail for s in sorry.failed_checks] == ["wrong id"]  # each failure once, not once per trial
    assert errors.first.error == "timeout: no reply" and errors.score is None and errors.tool_calls == ()


def test_a_judge_may_score_identical_outputs_differently() -> None:
    (group,) = group_outputs([trial(0, "Ships tomorrow."), trial(1, "Ships tomorrow.", ok=False)])
    assert group.outcomes == "1 pass · 1 fail" and group.outcome == "fail" and group.score == 0.5


def test_arguments_read_as_json_or_as_sent() -> None:
    assert arguments(ToolCall("f", {"b": 1, "a": "é"})) == '{\n "a": "é",\n "b": 1\n}'
    assert arguments(ToolCall("f", "{not json")) == "{not json"


def test_messages_are_shown_with_their_roles_and_the_tools_offered() -> None:
    rendering = Rendering("sha256:x", [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Where is A-17?"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}],
        [{"type": "function", "function": {"name": "lookup"}}, {"name": "plain"}], (0, 1))
    (sent,) = messages_sent([rendering])
    assert [(m.role, m.text) for m in sent.messages][:1] == [("system", "Be brief.")]
    assert '"Where is A-17?"' in sent.messages[1].text and sent.messages[2].text == ""
    assert '"tool_calls"' in sent.messages[2].extra and sent.messages[0].extra == ""
    assert [name for name, _ in sent.tools] == ["lookup", "plain"]
