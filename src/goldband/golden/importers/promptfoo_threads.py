"""promptfoo conversations (``_conversation`` + ``metadata.conversationId``) as goldband ``turns``.

promptfoo threads the tests that share a ``conversationId``: each test's prompt is
rendered with ``_conversation``, the earlier tests' inputs and outputs, so the model sees
its own replies. goldband's equivalent is one case whose ``turns`` are the user messages,
the model's replies fed back by the engine. Each test's prompt is rendered here with an
empty ``_conversation`` (in Jinja2's sandbox): the messages before its last user message
open the case (its ``input``), and that last user message is the test's turn, scored by
the test's own assertions. A test outside any thread becomes a case whose input is its
rendered messages. Whatever does not render to chat messages is listed, and its tests
are imported one case each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from goldband.golden.importers.common import Ids, Imported, provenance

ROLES = ("system", "user", "assistant", "developer")


@dataclass
class Step:
    """One promptfoo test of a thread: its vars, its checks and where it was written."""

    variables: dict[str, Any]
    checks: list[dict[str, Any]]
    where: str
    description: str | None = None


@dataclass
class Thread:
    key: str | None  # the conversationId; None: a test on its own
    steps: list[Step] = field(default_factory=list)


def messages(template: str, variables: dict[str, Any]) -> list[dict[str, str]] | str:
    """The prompt rendered with no earlier turns, as chat messages; or why it cannot be.

    >>> messages('[{"role": "system", "content": "{{ s }}"}, {"role": "user", "content": "{{ q }}"}]',
    ...          {"s": "Be brief", "q": "Hi"})
    [{'role': 'system', 'content': 'Be brief'}, {'role': 'user', 'content': 'Hi'}]
    >>> messages("Answer {{ q }}", {"q": "Hi"})
    [{'role': 'user', 'content': 'Answer Hi'}]
    """
    from jinja2 import TemplateError
    from jinja2.sandbox import SandboxedEnvironment

    try:
        text = SandboxedEnvironment().from_string(template).render(**variables, _conversation=[])
    except TemplateError as exc:
        return f"the prompt does not render as Jinja2 ({exc})"
    if not text.lstrip().startswith("["):
        return [{"role": "user", "content": text}]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"the rendered prompt is not JSON ({exc.msg} at line {exc.lineno})"
    ok = isinstance(value, list) and value and all(
        isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str) for m in value)
    if not ok or value[-1]["role"] != "user":
        return "the rendered prompt is not chat messages ending with a user message"
    return [{"role": m["role"], "content": m["content"]} for m in value]


def thread_case(template: str, thread: Thread, ids: Ids, imported: Imported) -> dict[str, Any] | None:
    """The case of one thread, or None (listed) when a test's prompt does not render to chat messages."""
    rendered = []
    for step in thread.steps:
        result = messages(template, step.variables)
        if isinstance(result, str):
            imported.skip(step.where, f"conversation {thread.key}" if thread.key else "test", result)
            return None
        rendered.append(result)
    first = thread.steps[0]
    if thread.key is None:
        return _single(rendered[0], first, ids, len(imported.cases) + 1)
    opening = rendered[0][:-1]
    if any(r[:-1] != opening for r in rendered[1:]):
        imported.skip(first.where, f"conversation {thread.key}", "its tests open with different messages; "
                                                                 "the first test's opening is used")
    turns = [_turn(r[-1]["content"], step.checks) for r, step in zip(rendered, thread.steps, strict=True)]
    case: dict[str, Any] = {"id": ids.generated(thread.key, len(imported.cases) + 1),
                            "description": f"promptfoo conversation {thread.key} ({len(turns)} turns)"}
    if opening:
        case["input"] = opening
    case["turns"] = turns
    case["provenance"] = provenance(first.where)
    return case


def _single(rendered: list[dict[str, str]], step: Step, ids: Ids, row: int) -> dict[str, Any]:
    case: dict[str, Any] = {"id": ids.generated(step.description or rendered[-1]["content"], row)}
    if step.description:
        case["description"] = step.description
    case["input"] = rendered
    if step.checks:
        case["checks"] = step.checks
    case["provenance"] = provenance(step.where)
    return case


def _turn(text: str, checks: list[dict[str, Any]]) -> str | dict[str, Any]:
    """A user turn; goldband renders turns as templates, so template syntax in the text is kept literal."""
    if "{{" in text or "{%" in text or "{#" in text:
        text = "{% raw %}" + text + "{% endraw %}"
    return {"user": text, "checks": checks} if checks else text
