"""A case with no checks would pass whatever the model says: collection warns, once per golden set.

The in-process runs inherit this suite's ``filterwarnings = error``; the module mark lets the warning
through as a user's default filters would.
"""

from __future__ import annotations

import pytest

from goldband.checks.base import known_names

CONFIG = "targets:\n  app:\n    callable: app:answer\n"
pytestmark = pytest.mark.filterwarnings("default::goldband.plugin.collect.NoChecksWarning")

APP = "def answer(inp):\n    return 'anything at all'\n"

@pytest.fixture(autouse=True)
def _families_loaded() -> None:
    """Load every check family before pytester snapshots sys.modules: a family imported inside an
    in-process run is dropped at its end and would register its checks twice in the next run."""
    known_names()


BARE = """name: bare
version: 1
cases:
  - id: checked
    input: {q: a}
    checks: [{contains: anything}]
  - id: forgot
    input: {q: b}
  - id: forgot-too
    input: {q: c}
    checks: []
"""

DEFAULTS = """name: covered
version: 1
defaults:
  checks: [{contains: anything}]
cases:
  - id: by-default
    input: {q: a}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", goldband=CONFIG)
    pytester.makepyfile(app=APP)
    pytester.mkdir("goldensets")
    pytester.syspathinsert()
    return pytester


def write(p: pytest.Pytester, name: str, text: str) -> None:
    (p.path / "goldensets" / f"{name}.yaml").write_text(text, encoding="utf-8")


def test_one_warning_per_set_names_each_case_and_line(project: pytest.Pytester) -> None:
    write(project, "bare", BARE)
    result = project.runpytest("-p", "no:randomly", "--goldband-runs", "1")
    result.assert_outcomes(passed=3, warnings=1)  # a warning, not an error: the run goes on
    result.stdout.fnmatch_lines([
        "*goldensets/bare.yaml:7: NoChecksWarning: golden set 'bare': 2 cases have no checks and would pass "
        "whatever the model answers: 'forgot' (goldensets/bare.yaml:7), 'forgot-too' (goldensets/bare.yaml:9); "
        "fix: give each case 'checks:' (or a rubric), or the set 'defaults: checks:'*",
    ])
    assert "'checked'" not in result.stdout.str()


def test_default_checks_cover_a_case(project: pytest.Pytester) -> None:
    write(project, "covered", DEFAULTS)
    result = project.runpytest("-p", "no:randomly", "--goldband-runs", "1", "-W", "error")
    result.assert_outcomes(passed=1)
    assert "NoChecksWarning" not in result.stdout.str()


def test_the_warning_can_be_made_an_error_or_silenced(project: pytest.Pytester) -> None:
    write(project, "bare", BARE)
    strict = project.runpytest("-p", "no:randomly", "--collect-only", "-W", "error::UserWarning")
    assert strict.ret == pytest.ExitCode.INTERRUPTED
    strict.stdout.fnmatch_lines(["*golden set 'bare': 2 cases have no checks*"])
    quiet = project.runpytest("-p", "no:randomly", "--collect-only",
                              "-W", "ignore::goldband.plugin.collect.NoChecksWarning")
    assert quiet.ret == pytest.ExitCode.OK and "NoChecksWarning" not in quiet.stdout.str()


CHAT = """name: chat
version: 1
targets: [model]
cases:
  - id: turn-checked
    turns:
      - user: "Hi"
        checks: [{contains: hello}]
      - "And then?"
  - id: unchecked-chat
    turns: ["Hi", "And then?"]
"""


def test_checks_on_a_conversation_turn_count(project: pytest.Pytester) -> None:
    (project.path / "goldband.yaml").write_text(
        CONFIG + "  model:\n    model: openai/m\n    messages: [{role: system, content: Be brief.}]\n    api_base: http://127.0.0.1:9/v1\n",
        encoding="utf-8")
    write(project, "chat", CHAT)
    result = project.runpytest("-p", "no:randomly", "--collect-only")
    result.stdout.fnmatch_lines(["*golden set 'chat': 1 case has no checks and would pass whatever the model "
                                 "answers: 'unchecked-chat' (goldensets/chat.yaml:10);*"])
    assert "'turn-checked'" not in result.stdout.str()
