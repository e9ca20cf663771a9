"""Conversation cases (``turns:``) against the loopback server: the model's own replies are fed back.

FakeOpenAI echoes (``echo: <last user message>``) unless a rule matches, so what
the server received shows exactly what each turn sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import goldband
from goldband.config.project import TargetConfig
from goldband.engine.conversation import check
from goldband.engine.targets import build_target
from goldband.errors import ConfigError
from goldband.golden.goldenset import load
from goldband.results import ConversationTrial, ScoredTrial
from goldband.store import open_store
from goldband.testing import FakeOpenAI

KEY = "sk-test-conversation"
TURNS = """    turns:
      - "First about {{ topic }}"
      - user: "Second question"
        checks: [{contains: "Second"}]
      - "Third question"
"""


def project(root: Path, url: str, *, turns: str = TURNS, runs: int = 2, checks: str = "[{contains: Third}]") -> Path:
    (root / "goldensets").mkdir(exist_ok=True)
    (root / "goldband.yaml").write_text(
        f"concurrency: 4\ntargets:\n  t:\n    model: openai/fake-model\n    client: openai\n    api_base: {url}\n"
        f"    api_key_env: GB_TEST_KEY\n    params: {{temperature: 0.7, seed: 5, max_tokens: 50}}\n"
        f"    messages: [{{role: system, content: 'You talk about {{{{ topic }}}}.'}}]\n"
        f"    timeout_s: 2\n    max_retries: 0\n    backoff_s: 0.01\n")
    (root / "goldensets" / "s.yaml").write_text(
        f"name: s\nversion: 1\ndefaults:\n  runs: {runs}\ncases:\n  - id: chat\n    input: {{topic: owls}}\n"
        f"    checks: {checks}\n{turns}")
    return root


def trials(root: Path, mode: str = "live", store: str = "off") -> list[ScoredTrial]:
    result = goldband.run(root=root, mode=mode, store=store)
    return result.outcome("chat").trials


def turns_of(st: ScoredTrial) -> ConversationTrial:
    assert isinstance(st.trial, ConversationTrial)
    return st.trial


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GB_TEST_KEY", KEY)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as s:
        yield s


def sent(server: FakeOpenAI) -> list[list[dict[str, str]]]:
    return [r.body["messages"] for r in server.requests if r.path.endswith("/chat/completions")]


def test_turn_three_sends_the_earlier_turns_and_the_models_own_replies(tmp_path: Path, server: FakeOpenAI) -> None:
    found = trials(project(tmp_path, server.url))
    assert len(found) == 2  # one trial per sample: the conversation
    requests = sent(server)
    assert len(requests) == 6  # 3 turns x 2 samples, one request each
    third = [m for m in requests if len(m) == 6]
    assert third and all(m == [
        {"role": "system", "content": "You talk about owls."},
        {"role": "user", "content": "First about owls"},
        {"role": "assistant", "content": "echo: First about owls"},
        {"role": "user", "content": "Second question"},
        {"role": "assistant", "content": "echo: Second question"},
        {"role": "user", "content": "Third question"}] for m in third)
    st = found[0]
    assert st.outcome == "pass" and st.trial.output == "echo: Third question"
    assert [t.output for t in turns_of(st).turns] == ["echo: First about owls", "echo: Second question",
                                                     "echo: Third question"]
    assert [s.check for s in st.scores] == ['turn 2: contains "Second"', 'contains "Third"']


def test_each_sample_follows_its_own_replies(tmp_path: Path, server: FakeOpenAI) -> None:
    server.add_rule(contains="First", replies=["alpha", "beta"])
    found = trials(project(tmp_path, server.url))
    fed_back = sorted(m[2]["content"] for m in sent(server) if len(m) == 6)
    assert fed_back == ["alpha", "beta"]
    assert sorted(turns_of(st).turns[0].output or "" for st in found) == ["alpha", "beta"]


def test_a_failing_turn_check_fails_the_conversation_and_case_checks_score_the_final_reply(
        tmp_path: Path, server: FakeOpenAI) -> None:
    turns = TURNS.replace('checks: [{contains: "Second"}]', 'checks: [{contains: "nope"}]')
    found = trials(project(tmp_path, server.url, turns=turns, checks="[{contains: Third}, {contains: First}]"))
    st = found[0]
    assert st.outcome == "fail"
    failed = {s.check: s.outcome for s in st.scores}
    assert failed == {'turn 2: contains "nope"': "fail", 'contains "Third"': "pass", 'contains "First"': "fail"}
    assert [s.meta for s in st.scores if s.check.startswith("turn")] == [{"turn": 2}]


def test_a_failed_call_on_turn_two_is_an_error_naming_the_turn(tmp_path: Path, server: FakeOpenAI) -> None:
    server.fail_next(2, status=400, retry_after=None, contains="Second")
    result = goldband.run(root=project(tmp_path, server.url), mode="live")
    outcome = result.outcome("chat")
    assert outcome.verdict.status == "ERROR"
    for st in outcome.trials:
        assert st.outcome == "error" and (st.trial.error or "").startswith("turn 2 of 3: http")
        assert [t.index for t in turns_of(st).turns] == [1, 2]
    assert not [m for m in sent(server) if len(m) >= 6]  # the conversation stopped: turn 3 was never sent


def test_record_then_replay_keeps_every_turn_apart(tmp_path: Path, server: FakeOpenAI) -> None:
    root = project(tmp_path, server.url)
    recorded = trials(root, "record")
    cassette = root / "cassettes" / "s" / "t.jsonl"
    entries = [json.loads(line) for line in cassette.read_text().splitlines()]
    assert sorted((e["sample"], e["turn"]) for e in entries) == [(s, k) for s in (0, 1) for k in (1, 2, 3)]
    assert len({e["key"] for e in entries}) == 6
    requests = len(server.requests)
    replayed = trials(root, "replay")
    assert len(server.requests) == requests  # nothing live
    assert [st.trial.output for st in replayed] == [st.trial.output for st in recorded]
    assert all(st.trial.cached and all(t.cached for t in turns_of(st).turns) for st in replayed)


def test_a_changed_earlier_reply_changes_the_later_keys(tmp_path: Path, server: FakeOpenAI) -> None:
    root = project(tmp_path, server.url, runs=1)
    trials(root, "record")
    cassette = root / "cassettes" / "s" / "t.jsonl"
    entries = [json.loads(line) for line in cassette.read_text().splitlines()]
    for e in entries:
        if e["turn"] == 1:
            e["completion"]["output"] = "a different first reply"
    cassette.write_text("".join(json.dumps(e) + "\n" for e in entries))
    [st] = trials(root, "replay")
    assert st.outcome == "error"
    assert (st.trial.error or "").startswith("turn 2 of 3: replay: no cassette entry for case 'chat', target 't', "
                                             "sample 0, turn 2 of 3")
    assert "an earlier turn's recorded reply changed" in (st.trial.error or "")


def test_turn_templates_are_checked_and_a_system_only_target_opens_with_its_system_message(tmp_path: Path) -> None:
    spec = TargetConfig.model_validate({"model": "openai/m", "system": "About {{ topic }}."})
    target = build_target("t", spec, tmp_path, None)
    assert target.opening({"topic": "owls"}, where="here") == [{"role": "system", "content": "About owls."}]
    with pytest.raises(ConfigError, match=r"template turns\[0\] of target 't' needs a variable"):
        target.render_text("{{ missing }}", {}, where="here", source="turns[0]")


def test_a_case_needs_input_or_turns(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nversion: 1\ncases:\n  - id: c\n    checks: [{contains: x}]\n")
    with pytest.raises(ConfigError, match=r"s.yaml:4: case 'c': missing required key 'input'.*'turns:'"):
        load(path, base_dir=tmp_path)
    path.write_text("name: s\nversion: 1\ncases:\n  - id: c\n    turns: [hi, {user: again, checks: [{contains: x}]}]\n")
    [case] = load(path, base_dir=tmp_path).cases
    assert [t.user for t in case.turns] == ["hi", "again"] and len(case.turns[1].checks) == 1
    assert case.turns[1].line == 5


def test_the_store_keeps_the_turns_and_show_prints_them(tmp_path: Path, server: FakeOpenAI) -> None:
    root = project(tmp_path, server.url, runs=1)
    store = str(root / "store.db")
    trials(root, "live", store=store)
    with open_store(store) as opened:
        run_id = opened.latest_run(status=None).id  # type: ignore[union-attr]
        turns = opened.turns(run_id, ("s", "chat", "t"))
        [sent_last] = opened.renderings(run_id)[("s", "chat", "t")]
    assert [t.index for t in turns[0]] == [1, 2, 3]
    assert turns[0][2].messages[-1] == {"role": "user", "content": "Third question"}
    assert turns[0][1].output == "echo: Second question"
    assert len(sent_last.messages) == 6  # the trial's own rendering: the whole conversation it sent
    out = subprocess.run([sys.executable, "-m", "goldband", "show", "latest", "s::chat", "--store", store],
                         capture_output=True, text=True, check=True, cwd=root).stdout
    assert "turn 2  latency" in out and "user: Second question" in out and "reply: echo: Second question" in out
    shown = json.loads(subprocess.run([sys.executable, "-m", "goldband", "show", "latest", "s::chat", "--json",
                                       "--store", store], capture_output=True, text=True, check=True,
                                      cwd=root).stdout)
    assert [t["completion"]["output"] for t in shown["trials"][0]["turns"]] == [
        "echo: First about owls", "echo: Second question", "echo: Third question"]


def test_collection_refuses_a_callable_target_and_a_turn_that_cannot_render(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nversion: 1\ncases:\n  - id: c\n    turns:\n      - Hi\n      - 'Then {{ nope }}'\n")
    [case] = load(path, base_dir=tmp_path).cases
    model = build_target("t", TargetConfig.model_validate({"model": "openai/m"}), tmp_path, None)
    with pytest.raises(ConfigError, match=r"s.yaml:7: case 'c': template turns\[1\] of target 't' needs a variable"):
        check(case, model)
    app = build_target("app", TargetConfig.model_validate({"callable": "app:answer"}), tmp_path, None)
    with pytest.raises(ConfigError, match=r"s.yaml:4: case 'c': a conversation case \('turns:'\) cannot run on "
                                          r"callable target 'app'"):
        check(case, app)


def test_a_turn_added_after_recording_is_a_miss_naming_that_turn(tmp_path: Path, server: FakeOpenAI) -> None:
    root = project(tmp_path, server.url, runs=1)
    trials(root, "record")
    golden = root / "goldensets" / "s.yaml"
    golden.write_text(golden.read_text().replace("version: 1", "version: 2") + '      - "Fourth question"\n')
    [st] = trials(root, "replay")
    assert (st.trial.error or "").startswith("turn 4 of 4: replay: no cassette entry")
    assert "nothing recorded for this turn" in (st.trial.error or "")
    assert [t.cached for t in turns_of(st).turns] == [True, True, True, False]


def test_cached_mode_fills_the_cache_per_turn_then_serves_the_whole_conversation(tmp_path: Path,
                                                                                 server: FakeOpenAI) -> None:
    root = project(tmp_path, server.url, runs=1)
    first = trials(root, "cached")
    requests = len(server.requests)
    assert requests == 3 and not first[0].trial.cached
    again = trials(root, "cached")
    assert len(server.requests) == requests and again[0].trial.cached
    assert again[0].trial.output == first[0].trial.output == "echo: Third question"


def test_the_case_transform_runs_before_each_turns_checks(tmp_path: Path, server: FakeOpenAI) -> None:
    turns = TURNS.replace('checks: [{contains: "Second"}]', 'checks: [{equals: "SECOND QUESTION"}]')
    root = project(tmp_path, server.url, turns=turns, runs=1, checks="[{contains: THIRD}]\n"
                   "    transform: \"output.split(': ')[-1] | upper\"")
    [st] = trials(root)
    assert {s.check: s.outcome for s in st.scores} == {'turn 2: equals "SECOND QUESTION"': "pass",
                                                      'contains "THIRD"': "pass"}


# These two need the planning diff of the E15 report (``Planner.plan_for``: ``conversation.check`` and
# ``Target.opening`` for conversation cases).

def test_a_system_only_target_opens_the_conversation_with_its_system_message(tmp_path: Path,
                                                                           server: FakeOpenAI) -> None:
    root = project(tmp_path, server.url, runs=1)
    config = root / "goldband.yaml"
    inline = "    messages: [{role: system, content: 'You talk about {{ topic }}.'}]"
    config.write_text(config.read_text().replace(inline, "    system: 'You talk about {{ topic }}.'"))
    [st] = trials(root)
    assert st.outcome == "pass"
    assert sent(server)[0] == [{"role": "system", "content": "You talk about owls."},
                               {"role": "user", "content": "First about owls"}]


def test_a_turn_that_cannot_render_is_a_collection_error(tmp_path: Path, server: FakeOpenAI) -> None:
    root = project(tmp_path, server.url, turns=TURNS.replace("Third question", "Third {{ nope }}"))
    with pytest.raises(ConfigError, match=r"s.yaml:\d+: case 'chat': template turns\[2\] of target 't' needs"):
        goldband.run(root=root, mode="live")
    assert not server.requests  # nothing was sent
