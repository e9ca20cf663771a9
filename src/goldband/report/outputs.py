"""What a case sent and what came back, shaped for reading: the HTML report's trial view.

Ten samples of a steady case often give one or two distinct answers; one row
per trial hides that, and buries the one odd sample among copies. So trials
that came back identical (same output text, same tool calls with the same
arguments, same error) are one ``OutputGroup`` with a count, their samples and
their outcomes. The messages sent are shown as stored (``Store.renderings``),
each with its role, so a template bug is visible as the model saw it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from goldband.report.data import pretty
from goldband.results import Score, ScoredTrial, ToolCall, Trial
from goldband.store import Rendering

OUTCOMES = ("pass", "fail", "error")
PASSING_OUTPUTS = 2  # distinct outputs shown of a case whose every trial passed; `goldband show` prints all


@dataclass(frozen=True)
class OutputGroup:
    """Trials of one case that came back identical, in sample order."""

    trials: tuple[ScoredTrial, ...]

    @property
    def first(self) -> Trial:
        return self.trials[0].trial

    @property
    def count(self) -> int:
        return len(self.trials)

    @property
    def samples(self) -> str:
        """The trials' sample indices, e.g. ``0, 2, 5``."""
        return ", ".join(str(t.trial.sample) for t in self.trials)

    @property
    def outcomes(self) -> str:
        """How the identical trials were scored, e.g. ``3 pass`` or ``2 pass · 1 fail`` (a judge may differ)."""
        counts: Counter[str] = Counter(t.outcome for t in self.trials)
        return " \u00b7 ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o])

    @property
    def outcome(self) -> str:
        """The group's outcome for styling and filtering: the worst one among its trials."""
        found = {t.outcome for t in self.trials}
        return next((o for o in ("error", "fail") if o in found), "pass")

    @property
    def score(self) -> float | None:
        known = [s for t in self.trials if (s := t.score) is not None]
        return math.fsum(known) / len(known) if known else None  # statistics.fmean's sum, without its checks

    @property
    def latency_ms(self) -> float | None:
        """The median latency of the group's trials."""
        known = [ms for t in self.trials if (ms := t.trial.latency_ms) is not None]
        return statistics.median(known) if len(known) > 1 else known[0] if known else None

    @property
    def cost_usd(self) -> float | None:
        known = [t.trial.completion.cost_usd for t in self.trials
                 if t.trial.completion is not None and t.trial.completion.cost_usd is not None]
        return sum(known) if known else None

    @property
    def cached(self) -> bool:
        return all(t.trial.cached for t in self.trials)

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return self.first.completion.tool_calls if self.first.completion else ()

    @property
    def failed_checks(self) -> list[Score]:
        """Failed checks of the group's trials, each (check, detail, evidence) once."""
        seen: dict[tuple[str, str, str | None], Score] = {}
        for t in self.trials:
            for s in t.failed_checks:
                seen.setdefault((s.check, s.detail, s.evidence), s)
        return list(seen.values())


def group_outputs(trials: Sequence[ScoredTrial]) -> list[OutputGroup]:
    """Identical trials together, groups in the order of their first sample."""
    groups: dict[bytes, list[ScoredTrial]] = {}
    for st in trials:
        groups.setdefault(_identity(st.trial), []).append(st)
    return [OutputGroup(tuple(found)) for found in groups.values()]


def shown_outputs(clean_pass: bool, groups: list[OutputGroup]) -> list[OutputGroup]:
    """The groups a report shows: all of them, or a clean pass's first ``PASSING_OUTPUTS`` (the page and
    report.json show the same ones; the store keeps every trial for ``goldband show``)."""
    return groups[:PASSING_OUTPUTS] if clean_pass else groups


def _identity(trial: Trial) -> bytes:
    """What makes two trials identical, as one comparable value (orjson: a report asks it of every trial)."""
    calls = [[c.name, c.arguments] for c in (trial.completion.tool_calls if trial.completion else ())]
    try:
        return orjson.dumps([trial.output, calls, trial.error], default=str, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # what orjson cannot write (an integer past 64 bits): the slower json
        return json.dumps([trial.output, calls, trial.error], sort_keys=True, default=str).encode()


def arguments(call: ToolCall) -> str:
    """A tool call's arguments as readable JSON (the raw text when the model sent no valid JSON)."""
    if isinstance(call.arguments, str):
        return call.arguments
    return json.dumps(call.arguments, indent=1, ensure_ascii=False, sort_keys=True, default=str)


@dataclass(frozen=True)
class Message:
    """One message as sent: its role, its text, and any other fields (name, tool calls) as JSON."""

    role: str
    text: str
    extra: str
    turn: int | None = None  # a user or assistant message after the first assistant one: its conversation turn


@dataclass(frozen=True)
class Sent:
    """One distinct rendering a case's trials were sent: messages, the tools offered, which samples."""

    rendering: Rendering
    messages: list[Message]
    tools: list[tuple[str, str]]  # (name, the definition as JSON)

    @property
    def replies(self) -> int:
        """The model replies fed back in these messages (a conversation case's earlier turns)."""
        return sum(m.role == "assistant" for m in self.messages)


def messages_sent(renderings: Sequence[Rendering]) -> list[Sent]:
    """The renderings as the report shows them."""
    return [Sent(r, _numbered([_message(m) for m in r.messages]), [_tool(t) for t in r.tools or []])
            for r in renderings]


def _numbered(messages: list[Message]) -> list[Message]:
    """Number a conversation's turns (``turns:`` cases send their earlier user turns and the model's own
    replies): the user message before each reply, and the reply, get the turn's number; so does the last
    user message, the turn being asked. Messages before the first turn (system, prompt) get none."""
    replies = [i for i, m in enumerate(messages) if m.role == "assistant"]
    if not replies:
        return messages
    asked = [max((j for j in range(i) if messages[j].role == "user"), default=None) for i in replies]
    last = max((j for j, m in enumerate(messages) if m.role == "user"), default=None)
    numbers: dict[int, int] = {}
    for k, (reply, user) in enumerate(zip(replies, asked, strict=True), 1):
        numbers[reply] = k
        if user is not None:
            numbers[user] = k
    if last is not None and last > replies[-1]:
        numbers[last] = len(replies) + 1
    return [dataclasses.replace(m, turn=numbers.get(i)) for i, m in enumerate(messages)]


def _message(message: Any) -> Message:
    if not isinstance(message, dict):
        return Message("?", pretty(message), "")
    rest = {k: v for k, v in message.items() if k not in ("role", "content")}
    return Message(str(message.get("role", "?")), pretty(message.get("content")), pretty(rest) if rest else "")


def _tool(tool: Any) -> tuple[str, str]:
    """A tool definition's name (OpenAI's ``{"type": "function", "function": {"name": ...}}``) and JSON."""
    function = tool.get("function") if isinstance(tool, dict) else None
    name = function.get("name") if isinstance(function, dict) else tool.get("name") if isinstance(tool, dict) else None
    return str(name or "?"), json.dumps(tool, indent=1, ensure_ascii=False, default=str)
