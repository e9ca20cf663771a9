"""The documented contracts, run as written: callable targets, tools in params, the python check's context.

README.md's "Your code in the loop" marks its runnable blocks with ``<!-- contract: PATH -->``: each is
written to PATH in a fresh project and the project is run by pytest (pytester) against a loopback
FakeOpenAI, so the README cannot drift from the code. Its field tables (``<!-- contract-fields: NAME -->``)
are compared with the dataclasses. ``GOLDBAND_CONTRACTS_DOC`` names another file to read them from (the
section's draft, before it is merged into README.md).

The return-value table of callable targets is checked case by case through ``goldband.run``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import goldband
from goldband.checks import CheckContext
from goldband.checks.base import known_names
from goldband.results import Completion, ScoredTrial, ToolCall, Trial
from goldband.testing import FakeOpenAI, Reply

ROOT = Path(__file__).resolve().parents[2]
DOC = Path(os.environ.get("GOLDBAND_CONTRACTS_DOC") or ROOT / "README.md")
DOC_BASE = "http://127.0.0.1:8000/v1"  # the api_base the examples show; the test's server replaces it
EXAMPLES = {"goldband.yaml", "myapp/pipeline.py", "myapp/agent.py", "mychecks.py", "goldensets/contracts.yaml"}


def doc_blocks() -> dict[str, str]:
    """The marked example files of the contracts section: path -> the code block's text."""
    text = DOC.read_text(encoding="utf-8")
    return dict(re.findall(r"<!-- contract: (\S+) -->\n```\w*\n(.*?)```", text, flags=re.S))


def field_table(name: str) -> set[str]:
    """The names in the first column of the table marked ``<!-- contract-fields: NAME -->``."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split(f"<!-- contract-fields: {name} -->\n", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    return {n for row in rows for n in re.findall(r"`(\w+)`", row.split("|")[1])}


@pytest.fixture(autouse=True)
def _families_loaded() -> None:
    """Load every check family before pytester snapshots sys.modules (else a run re-registers them)."""
    known_names()


def test_the_doc_shows_every_contract_example() -> None:
    missing = EXAMPLES - set(doc_blocks())
    assert not missing, f"{DOC} lacks the contract examples {sorted(missing)}"


@pytest.fixture
def model_calls_the_tool() -> Iterator[FakeOpenAI]:
    """A model that answers the refund question with a call to lookup_order."""
    with FakeOpenAI() as server:
        call = {"name": "lookup_order", "arguments": {"order_id": "NW-1"}}
        server.add_rule(contains="NW-1", replies=[Reply(tool_calls=[call])])
        yield server


def test_the_examples_pass_as_written(pytester: pytest.Pytester, model_calls_the_tool: FakeOpenAI) -> None:
    blocks = doc_blocks()
    for path, text in blocks.items():
        (pytester.path / path).parent.mkdir(parents=True, exist_ok=True)
        (pytester.path / path).write_text(text.replace(DOC_BASE, model_calls_the_tool.url), encoding="utf-8")
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines_random(["*returns-window?rag-app? PASSED*", "*refund-lookup?agent? PASSED*",
                                        "*refund-lookup?support-tools? PASSED*"])
    sent = [r.body for r in model_calls_the_tool.requests]
    params = yaml.safe_load(blocks["goldband.yaml"])["targets"]["support-tools"]["params"]
    assert sent and all(b["tools"] == params["tools"] and b["tool_choice"] == "auto" for b in sent)


def test_the_field_tables_match_the_code() -> None:
    assert field_table("CheckContext") == {f.name for f in dataclasses.fields(CheckContext)} | {"output"}
    assert field_table("Completion") == {f.name for f in dataclasses.fields(Completion)}
    trial_row = DOC.read_text(encoding="utf-8").split("| `trial` |", 1)[1].split("\n", 1)[0]
    assert set(re.findall(r"`(\w+)`", trial_row)) <= {f.name for f in dataclasses.fields(Trial)}


# --- the return values of a callable target, row by row ------------------------------------------------

APP = '''
import asyncio, json
from goldband.results import Completion, ToolCall

def text(inp):
    return "plain " + inp["q"]

def mapping(inp):
    return {"output": "mapped", "cost_usd": 0.5, "prompt_tokens": 3, "completion_tokens": 4, "extra": 1}

def openai_shaped(inp):
    return {"tool_calls": [{"type": "function", "function": {"name": "lookup", "arguments": '{"id": 7}'}},
                           ToolCall("lookup", {"id": 8}), {"name": "raw", "arguments": "not json"}]}

def completion(inp):
    return Completion("built", finish_reason="stop")

class Agent:
    async def __call__(self, inp):
        await asyncio.sleep(0)
        return "awaited"

agent = Agent()

def number(inp):
    return 42

def bad_output(inp):
    return {"output": 5}

def nameless_call(inp):
    return {"tool_calls": [{"arguments": {}}]}

def raises(inp):
    raise KeyError("topic")
'''


@pytest.fixture(scope="module")
def returned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ScoredTrial]:
    """One run of one case on a callable target per row: target name -> its trial."""
    tmp_path = tmp_path_factory.mktemp("callables")
    names = ("text", "mapping", "openai_shaped", "completion", "agent", "number", "bad_output", "nameless_call",
             "raises")
    targets = "".join(f"  {n}:\n    callable: gb_contract_app:{n}\n" for n in names)
    (tmp_path / "goldband.yaml").write_text(f"targets:\n{targets}", encoding="utf-8")
    (tmp_path / "gb_contract_app.py").write_text(APP, encoding="utf-8")
    (tmp_path / "goldensets").mkdir()
    (tmp_path / "goldensets" / "s.yaml").write_text(textwrap.dedent("""
        name: s
        version: 1
        defaults: {runs: 1, checks: [{not_contains: zzz}]}
        cases:
          - {id: c1, input: {q: hi}}
        """), encoding="utf-8")
    return trials(tmp_path)


def trials(root: Path) -> dict[str, ScoredTrial]:
    result = goldband.run(root=root)
    return {o.plan.target.name: o.trials[0] for o in result.outcomes}


def completion_of(found: dict[str, ScoredTrial], target: str) -> Completion:
    completion = found[target].trial.completion
    assert completion is not None, found[target].trial.error
    return completion


def test_what_a_callable_may_return(returned: dict[str, ScoredTrial]) -> None:
    found = returned
    assert completion_of(found, "text").output == "plain hi"
    mapped = completion_of(found, "mapping")
    assert (mapped.output, mapped.cost_usd, mapped.prompt_tokens, mapped.completion_tokens) == ("mapped", 0.5, 3, 4)
    assert completion_of(found, "openai_shaped").tool_calls == (
        ToolCall("lookup", {"id": 7}), ToolCall("lookup", {"id": 8}), ToolCall("raw", "not json"))
    built = completion_of(found, "completion")
    assert (built.output, built.finish_reason) == ("built", "stop") and built.latency_ms is not None
    assert completion_of(found, "agent").output == "awaited"  # an async __call__ is awaited
    assert all(found[t].outcome == "pass" for t in ("text", "mapping", "completion", "agent"))


@pytest.mark.parametrize(("target", "error"), [
    ("number", "callable: TypeError: a callable target must return text, a goldband.results.Completion, or a "
               "mapping with 'output' and/or 'tool_calls'; got int"),
    ("bad_output", "callable: TypeError: a callable target's 'output' must be text or None; got int"),
    ("nameless_call", "callable: TypeError: a callable target's tool call must be a mapping with 'name' and "
                      "'arguments'"),
    ("raises", "callable: KeyError: 'topic'"),
])
def test_anything_else_is_an_error_trial(returned: dict[str, ScoredTrial], target: str, error: str) -> None:
    found = returned[target]
    assert found.outcome == "error" and found.trial.error_kind == "callable"
    assert (found.trial.error or "").startswith(error)


# --- the python check's context ---------------------------------------------------------------------------

CHECKS = '''
SEEN = []

def sees(output, ctx, **args):
    SEEN.append(ctx)
    return True

async def later(output, ctx):
    return True
'''


def test_the_python_check_sees_what_the_table_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    (tmp_path / "goldband.yaml").write_text(yaml.safe_dump(
        {"targets": {"app": {"callable": "gb_contract_app:text", "params": {"tools": tools}}}}), encoding="utf-8")
    (tmp_path / "gb_contract_app.py").write_text(APP, encoding="utf-8")
    (tmp_path / "gb_contract_checks.py").write_text(CHECKS, encoding="utf-8")
    (tmp_path / "goldensets").mkdir()
    (tmp_path / "goldensets" / "s.yaml").write_text(yaml.safe_dump({
        "name": "s", "version": 1, "defaults": {"runs": 2},
        "cases": [{"id": "c1", "input": {"q": "hi"}, "reference": "ref",
                   "checks": [{"python": "gb_contract_checks:sees", "args": {"k": 1}},
                              {"python": "gb_contract_checks:later"}]}]}), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = trials(tmp_path)["app"]
    import gb_contract_checks  # type: ignore[import-not-found]

    seen: list[Any] = gb_contract_checks.SEEN
    assert sorted(ctx.trial.sample for ctx in seen) == [0, 1]
    ctx = seen[0]
    assert (ctx.output, ctx.case_input, ctx.reference, ctx.base_dir) == ("plain hi", {"q": "hi"}, "ref", tmp_path)
    assert ctx.tools == tuple(tools) and ctx.trial.case_id == "c1" and ctx.trial.target == "app"
    later = next(s for s in found.scores if "later" in s.check)
    assert later.outcome == "error" and "is async; a python check must be a plain function" in later.detail
