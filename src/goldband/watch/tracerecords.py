"""An LLM application's production call, as goldband keeps it: the ``TraceRecord``.

One record per model call (an OTLP file may hold several per trace: each LLM
span is one, keyed by its span id). It is what ``TraceLogger.log`` queues,
what the trace-file readers (``goldband.watch.tracefiles``) yield, and what the
``llm_traces`` table stores; ``goldband monitor evaluate`` scores it and
``goldband golden candidates`` turns the failing ones into golden cases.

``input`` is the call's input variables (``{"question": ...}``), its chat
messages (``[{"role": "user", "content": ...}]``) or, when only text is known,
a string. Everything here may hold personal data: the app's redaction hook runs
on the record before any of it is stored (docs/llm-monitoring.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["FEEDBACK_KINDS", "TraceRecord", "record_messages", "record_text"]

FEEDBACK_KINDS = ("thumbs", "comment", "correction", "label")


@dataclass(slots=True)
class TraceRecord:
    """One production LLM call; see the module docstring for ``input``.

    Not frozen: a frozen dataclass sets each of its 17 fields through ``object.__setattr__``, a seventh of
    the trace logger's writing time. Treat it as a value: a redaction hook returns a new one
    (``dataclasses.replace``), as the docs show.
    """

    app: str
    trace_id: str
    time: str  # the store's UTC text, milliseconds (goldband.watch.records.to_time)
    input: dict[str, Any] | list[dict[str, Any]] | str
    output: str | None
    span_id: str = ""  # the LLM span within the trace ("" for one call per trace)
    version: str | None = None  # the target or registry version that served (resolved, never an alias)
    tool_calls: tuple[dict[str, Any], ...] = ()  # {"id": ..., "name": ..., "arguments": dict | str}
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None  # in USD, when the trace carries it
    model: str | None = None  # the model the provider reports (response model, else request model)
    finish_reason: str | None = None  # normalised: stop | length | tool_call | content_filter | error | ...
    error: str | None = None  # the call failed: the provider's error or the span's status message
    attributes: dict[str, Any] = field(default_factory=dict)  # conversation, user, provider, source format...
    source: str = "logger"  # logger | jsonl | otlp


def record_messages(value: dict[str, Any] | list[dict[str, Any]] | str) -> list[dict[str, Any]]:
    """The input as chat messages: variables become one user message of ``name: value`` lines.

    >>> record_messages({"question": "Can I return shoes?"})
    [{'role': 'user', 'content': 'question: Can I return shoes?'}]
    >>> record_messages("hi")
    [{'role': 'user', 'content': 'hi'}]
    """
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if isinstance(value, dict):
        return [{"role": "user", "content": "\n".join(f"{k}: {v}" for k, v in value.items())}]
    return list(value)


def record_text(value: dict[str, Any] | list[dict[str, Any]] | str) -> str:
    """The input as one text (for similarity and text statistics): the values of the variables, or the
    content of the user messages, joined by newlines.

    >>> record_text([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    'Hi'
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(str(v) for v in value.values())
    return "\n".join(str(m.get("content") or "") for m in value if m.get("role", "user") == "user")
