"""Transforms (case and check level) and tool-argument schemas in a real pytest run of a golden set."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("error")

APP = '''
def answer(inp):
    return {"output": inp["say"], "tool_calls": inp.get("calls", [])}

def boom(output):
    raise ValueError("no answer line")
'''

CONFIG = """
targets:
  app:
    callable: app:answer
    params:
      tools:
        - type: function
          function:
            name: refund
            parameters:
              type: object
              properties: {order_id: {type: string}, amount: {type: number, minimum: 0}}
              required: [order_id, amount]
"""

SET = """
name: shaped
version: 1
targets: [app]
defaults:
  runs: 3
  band: {min_pass_rate: 0.5, confidence: 0.5}
cases:
  - id: case-level
    input: {say: "  ANSWER: Returns within 30 DAYS  "}
    transform: "output | lower | trim"
    checks:
      - equals: "answer: returns within 30 days"
      - starts_with: ["answer:", "reply:"]
  - id: check-level
    input: {say: "Returns within 30 DAYS"}
    checks:
      - contains: "30 days"
        transform: "output | lower"
      - not: {contains: "30 days"}
  - id: raising
    input: {say: "anything"}
    transform: "python:app:boom"
    checks:
      - contains: "anything"
  - id: tool-args-ok
    input: {say: "", calls: [{name: refund, arguments: {order_id: "A1", amount: 5}}]}
    checks:
      - tool_args_schema: refund
  - id: tool-args-bad
    input: {say: "", calls: [{name: refund, arguments: {order_id: "A1", amount: -5}}]}
    checks:
      - tool_args_schema: refund
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", goldband=CONFIG)
    pytester.makepyfile(app=APP)
    pytester.mkdir("goldensets")
    (pytester.path / "goldensets" / "shaped.yaml").write_text(SET)
    pytester.syspathinsert()
    return pytester


def test_transforms_and_tool_schemas_in_a_run(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "no:randomly", "-v")
    result.stdout.fnmatch_lines_random([
        "*shaped::case-level*PASSED*",
        "*shaped::check-level*PASSED*",
        "*shaped::raising*ERROR*",  # a transform that raises: an error, never a pass or a plain fail
        "*shaped::tool-args-ok*PASSED*",
        "*shaped::tool-args-bad*FAILED*",
    ])
    result.assert_outcomes(passed=3, failed=2)  # an ERROR verdict fails its item
    result.stdout.fnmatch_lines_random([
        "*case transform 'python:app:boom' raised ValueError: no answer line*",
        "*refund: 1 schema error(s); at amount: -5 is less than the minimum of 0*",
    ])


def test_a_bad_transform_is_one_collection_error(project: pytest.Pytester) -> None:
    (project.path / "goldensets" / "shaped.yaml").write_text(SET.replace("output | lower | trim", "output |"))
    result = project.runpytest("-p", "no:randomly")
    result.stdout.fnmatch_lines(["*goldensets/shaped.yaml:11: case 'case-level': transform 'output |' is not a "
                                 "valid Jinja2 expression*"])
    assert result.ret != 0
