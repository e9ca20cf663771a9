"""LLM calls out of OpenTelemetry spans in OTLP JSON: one ``TraceRecord`` per model-call span.

Three attribute flavours are read, because they are what instrumented apps already export:

* ``genai``: the OpenTelemetry GenAI semantic conventions, v1.37 to v1.41 layout (``gen_ai.operation.name``,
  ``gen_ai.input.messages`` / ``gen_ai.output.messages``, now kept in ``semantic-conventions-genai``);
  OpenLLMetry v0.55+ writes these too;
* ``openllmetry``: OpenLLMetry's legacy indexed form (``llm.request.type``, ``gen_ai.prompt.N.*``,
  ``gen_ai.completion.N.*``; OpenAI instrumentation up to v0.54 and many other packages still);
* ``openinference``: OpenInference (``openinference.span.kind`` = ``LLM``, ``llm.input_messages.N.message.*``).

Only LLM-call spans become records; tool, agent, chain and workflow spans lend their context (session,
user, conversation, workflow) to the calls below them, and when LLM spans nest (a framework span around
the SDK's span) only the innermost is kept: it has the exact tokens and response id. Every field is read
first hit wins across the flavours (the research brief's table), so a span that mixes them still maps.

A record's ``input`` is its chat messages, OpenAI style: ``{"role", "content"}`` with the text parts
joined, ``tool_calls`` (``[{"id", "name", "arguments"}]``) on an assistant message that called tools,
``tool_call_id`` on a tool result, the system instructions as a leading system message, and any other
part (image, reasoning, file) kept under ``parts``. ``output`` is the text of the first output message;
None when it only called tools. Content in JSON text that cannot be parsed (a truncated attribute) is
kept as that text. A span with no content at all (capture off) is still a record, with
``content_missing`` in its attributes. Every record gets the caller's ``app``; the resource's
``service.name`` is kept as attribute ``service_name``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from goldband.clock import iso
from goldband.watch.tracerecords import TraceRecord

__all__ = ["finish_reason", "records", "tool_arguments"]

LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
LEGACY_REQUEST_TYPES = frozenset({"chat", "completion"})
_INDEXED = re.compile(r"gen_ai\.(?:prompt|completion)\.\d+\.")
_FINISH = {"tool_calls": "tool_call", "function_call": "tool_call", "tool_use": "tool_call",
           "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "safety": "content_filter"}
_ERROR_CODES = (2, "2", "STATUS_CODE_ERROR", "ERROR")
_TEXT_PARTS = frozenset({"text"})

# record attribute -> span attribute names, first hit wins (the span's own attributes only)
_SPAN_ATTRIBUTES = {
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "request_model": ("gen_ai.request.model", "llm.request.model_name"),
    "response_id": ("gen_ai.response.id",),
    "error_type": ("error.type",),
    "total_tokens": ("gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total"),
    "cache_read_input_tokens": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                                "llm.token_count.prompt_details.cache_read"),
    "reasoning_output_tokens": ("gen_ai.usage.reasoning.output_tokens", "llm.usage.reasoning_tokens",
                                "llm.token_count.completion_details.reasoning"),
}
# record attribute -> names looked up on the span, then on its ancestors nearest first
_CONTEXT_ATTRIBUTES = {
    "conversation_id": ("gen_ai.conversation.id",),
    "session_id": ("session.id", "traceloop.association.properties.session_id"),
    "user_id": ("user.id", "traceloop.association.properties.user_id"),
    "workflow": ("traceloop.workflow.name", "gen_ai.workflow.name"),
    "agent": ("gen_ai.agent.name",),
    "tags": ("tag.tags",),
}
_ASSOCIATION = "traceloop.association.properties."


@dataclass(frozen=True, slots=True)
class _Span:
    """One decoded span with its resource's attributes and the file line it came from."""

    line: int
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    raw: Mapping[str, Any]
    attrs: dict[str, Any]
    resource: dict[str, Any]


def records(requests: Sequence[Any], *, app: str, line: int,
            span_lines: Mapping[str, int] | None = None) -> Iterator[tuple[int, TraceRecord | str]]:
    """The LLM-call records of OTLP trace requests read together (one JSONL line, or one document).

    ``line`` is where the requests start; ``span_lines`` (span id -> line) places each span more
    precisely in a pretty-printed document. A span that cannot be read is ``(line, message)``.
    """
    spans: list[_Span] = []
    for number, problem_or_span in _spans(requests, line, span_lines or {}):
        if isinstance(problem_or_span, str):
            yield number, problem_or_span
        else:
            spans.append(problem_or_span)
    index = {(s.trace_id, s.span_id): s for s in spans}
    chosen = [s for s in spans if flavour(s.attrs)]
    outer = {id(a) for s in chosen for a in _ancestors(s, index) if flavour(a.attrs)}
    for span in chosen:
        if id(span) not in outer:
            yield span.line, _record_or_message(span, _ancestors(span, index), app)


def _record_or_message(span: _Span, ancestors: list[_Span], app: str) -> TraceRecord | str:
    try:
        return _record(span, ancestors, app)
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        return f"span {span.span_id or '(no id)'} ({span.name!r}): {exc}"


def _spans(requests: Sequence[Any], line: int,
           span_lines: Mapping[str, int]) -> Iterator[tuple[int, _Span | str]]:
    """Flatten requests to spans; a request of the wrong shape is one message, a bad span another."""
    for request in requests:
        try:
            groups = [(resource, scope_spans) for resource, scope_spans in _groups(request)]
        except (ValueError, TypeError) as exc:
            yield line, f"not an OTLP trace request: {exc}"
            continue
        for resource, spans in groups:
            for span in spans:
                sid = _hex(span.get("spanId")) if isinstance(span, dict) else ""
                at = span_lines.get(sid, line)
                try:
                    yield at, _span(span, at, resource)
                except (ValueError, TypeError) as exc:
                    yield at, f"span {sid or '(no id)'}: {exc}"


def _groups(request: Any) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    """(resource attributes, spans) for every scope of every resource in a request."""
    for resource_spans in _list(request.get("resourceSpans"), "resourceSpans"):
        resource = attributes(((resource_spans.get("resource") or {}).get("attributes")) or [])
        for scope_spans in _list(resource_spans.get("scopeSpans"), "scopeSpans"):
            yield resource, _list(scope_spans.get("spans"), "spans")


def _list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{name!r} is a {type(value).__name__}, expected a list")
    if not all(isinstance(item, dict) for item in value) and name != "spans":
        raise ValueError(f"{name!r} holds a value that is not an object")
    return value


def _span(span: Any, line: int, resource: dict[str, Any]) -> _Span:
    if not isinstance(span, dict):
        raise ValueError(f"a span is a {type(span).__name__}, expected an object")
    return _Span(line=line, trace_id=_hex(span.get("traceId")), span_id=_hex(span.get("spanId")),
                 parent_id=_hex(span.get("parentSpanId")), name=str(span.get("name") or ""), raw=span,
                 attrs=attributes(span.get("attributes") or []), resource=resource)


def _hex(value: Any) -> str:
    """An OTLP JSON id: hex, case-insensitive, so lower-cased; missing or empty is ''."""
    return value.strip().lower() if isinstance(value, str) else ""


def attributes(pairs: Any) -> dict[str, Any]:
    """``[{"key", "value": AnyValue}]`` as a dict of Python values.

    >>> kvlist = {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": True}}]}}
    >>> attributes([{"key": "n", "value": {"intValue": "58"}},
    ...             {"key": "t", "value": {"arrayValue": {"values": [{"stringValue": "a"}, kvlist]}}}])
    {'n': 58, 't': ['a', {'k': True}]}
    """
    if not isinstance(pairs, list):
        raise ValueError(f"attributes are a {type(pairs).__name__}, expected a list of key/value objects")
    out: dict[str, Any] = {}
    for pair in pairs:
        if not isinstance(pair, dict) or not isinstance(pair.get("key"), str):
            raise ValueError(f"an attribute is not a {{key, value}} object: {str(pair)[:60]}")
        try:
            out[pair["key"]] = any_value(pair.get("value"))
        except ValueError as exc:
            raise ValueError(f"attribute {pair['key']!r}: {exc}") from None
    return out


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a Python value (64-bit ints arrive as decimal text); unknown shapes are None."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return _integer(value["intValue"])
    if "doubleValue" in value:
        return _double(value["doubleValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in _list((value["arrayValue"] or {}).get("values"), "values")]
    if "kvlistValue" in value:
        return attributes((value["kvlistValue"] or {}).get("values") or [])
    if "bytesValue" in value:
        return str(value["bytesValue"])  # base64 text, kept as sent
    return None


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise ValueError(f"intValue {value!r} is not an integer")
    try:
        number = int(value) if not isinstance(value, float) else value
    except ValueError:
        raise ValueError(f"intValue {value!r} is not an integer") from None
    if isinstance(number, float) and not number.is_integer():
        raise ValueError(f"intValue {value!r} is not an integer")
    return int(number)


def _double(value: Any) -> float:
    try:
        return float(value)  # proto3 JSON also sends "NaN", "Infinity", "-Infinity"
    except (TypeError, ValueError):
        raise ValueError(f"doubleValue {value!r} is not a number") from None


def flavour(attrs: Mapping[str, Any]) -> str | None:
    """Which convention marks this span as a model call, or None for any other span (GenAI wins)."""
    operation = attrs.get("gen_ai.operation.name")
    if operation is not None:
        return "genai" if operation in LLM_OPERATIONS else None
    if attrs.get("llm.request.type") in LEGACY_REQUEST_TYPES or any(_INDEXED.match(k) for k in attrs):
        return "openllmetry"
    return "openinference" if attrs.get("openinference.span.kind") == "LLM" else None


def _ancestors(span: _Span, index: Mapping[tuple[str, str], _Span]) -> list[_Span]:
    """The span's parents nearest first, as far as the file has them (a missing parent ends the walk)."""
    chain: list[_Span] = []
    seen = {span.span_id}
    parent = index.get((span.trace_id, span.parent_id))
    while parent is not None and parent.span_id not in seen:
        chain.append(parent)
        seen.add(parent.span_id)
        parent = index.get((parent.trace_id, parent.parent_id))
    return chain


def _record(span: _Span, ancestors: list[_Span], app: str) -> TraceRecord:
    a = span.attrs
    if not span.trace_id or not span.span_id:
        raise ValueError("no traceId or spanId; expected the span's hex ids")
    start, latency = _times(span.raw)
    messages = _input(a)
    output, tool_calls, message_finish = _output(a)
    raw_finish = _raw_finish(a, message_finish)
    extra = _attributes(span, ancestors, flavour(a) or "")
    if raw_finish is not None and finish_reason(raw_finish) != raw_finish:
        extra["finish_reason_raw"] = raw_finish
    if messages is None and output is None and not tool_calls:
        extra["content_missing"] = True
    return TraceRecord(
        app=app, trace_id=span.trace_id, span_id=span.span_id, time=_time_text(start),
        input=messages if messages is not None else [], output=output,
        version=_text(span.resource.get("service.version")), tool_calls=tuple(tool_calls), latency_ms=latency,
        input_tokens=_count(a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
        output_tokens=_count(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                             "llm.token_count.completion"),
        cost=_cost(a), model=_model(a), finish_reason=None if raw_finish is None else finish_reason(raw_finish),
        error=_error(span), attributes=extra, source="otlp")


def _times(span: Mapping[str, Any]) -> tuple[int, float | None]:
    """(start in Unix ns, latency in ms or None without an end); the subtraction is on integers."""
    start, end = _nanos(span, "startTimeUnixNano"), _nanos(span, "endTimeUnixNano")
    if not start:
        raise ValueError("no startTimeUnixNano; expected the span's start time in Unix nanoseconds")
    if end and end < start:
        raise ValueError(f"endTimeUnixNano {end} is before startTimeUnixNano {start}")
    return start, (end - start) / 1e6 if end else None


def _raw_finish(a: Mapping[str, Any], message_finish: Any) -> str | None:
    """The first choice's finish reason as the provider said it."""
    raw = _first(a, "gen_ai.response.finish_reasons") or message_finish or _first(
        a, "gen_ai.completion.0.finish_reason", "llm.finish_reason")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    return _text(raw)


def _model(a: Mapping[str, Any]) -> str | None:
    """The model the provider reports, else the one requested."""
    return _text(_first(a, "gen_ai.response.model", "gen_ai.request.model", "llm.model_name",
                        "llm.response.model_name", "llm.request.model_name") or _invocation(a).get("model"))


def _nanos(span: Mapping[str, Any], name: str) -> int:
    """A fixed64 time (decimal text or a number); integers only, as ns epochs exceed a float's precision."""
    value = span.get(name)
    if value in (None, "", 0, "0"):
        return 0
    try:
        return _integer(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not Unix nanoseconds") from None


def _time_text(nanos: int) -> str:
    seconds, rest = divmod(nanos, 1_000_000_000)
    return iso(datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=rest // 1000))


def _first(attrs: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return value
    return None


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _count(attrs: Mapping[str, Any], *names: str) -> int | None:
    """A token count, first hit wins; a negative or fractional one is a bad span."""
    for name in names:
        value = attrs.get(name)
        if value is None:
            continue
        if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
                or value < 0 or value != int(value)):
            raise ValueError(f"attribute {name!r} is {value!r}; expected a whole number of tokens >= 0")
        return int(value)
    return None


def _cost(attrs: Mapping[str, Any]) -> float | None:
    value = attrs.get("llm.cost.total")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"attribute 'llm.cost.total' is {value!r}; expected a cost in USD >= 0")
    return float(value)


def _invocation(attrs: Mapping[str, Any]) -> dict[str, Any]:
    parsed = structured(attrs.get("llm.invocation_parameters"))
    return parsed if isinstance(parsed, dict) else {}


def structured(value: Any) -> Any:
    """A content attribute as structure: JSON text is parsed (kept as text if it does not parse)."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def finish_reason(raw: str) -> str:
    """A provider's finish reason in goldband's words (stop, length, tool_call, content_filter, error...).

    >>> finish_reason("tool_calls"), finish_reason("MAX_TOKENS"), finish_reason("end_turn")
    ('tool_call', 'length', 'stop')
    """
    low = raw.strip().lower()
    return _FINISH.get(low, low)


def tool_arguments(value: Any) -> dict[str, Any] | str:
    """A tool call's arguments: an object as is, JSON text of an object parsed, anything else as text."""
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    parsed = structured(value) if isinstance(value, str) else value
    return parsed if isinstance(parsed, dict) else (value if isinstance(value, str) else orjson.dumps(value).decode())


def _error(span: _Span) -> str | None:
    """Why the call failed, when its status is ERROR: the status message, else the exception event."""
    status = span.raw.get("status") or {}
    if not isinstance(status, dict) or status.get("code") not in _ERROR_CODES:
        return None
    if status.get("message"):
        return str(status["message"])
    for event in span.raw.get("events") or []:
        if isinstance(event, dict) and event.get("name") == "exception":
            e = attributes(event.get("attributes") or [])
            text = ": ".join(str(e[k]) for k in ("exception.type", "exception.message") if e.get(k))
            if text:
                return text
    return _text(span.attrs.get("error.type")) or "the span's status is ERROR"


def _attributes(span: _Span, ancestors: list[_Span], source_format: str) -> dict[str, Any]:
    """Provider, ids and context inherited from the span's ancestors, nearest first."""
    out: dict[str, Any] = {"source_format": source_format, "span_name": span.name}
    for name, keys in _SPAN_ATTRIBUTES.items():
        value = _first(span.attrs, *keys)
        if value is not None:
            out[name] = value
    chain = [span, *ancestors]
    for name, keys in _CONTEXT_ATTRIBUTES.items():
        value = next((v for s in chain if (v := _first(s.attrs, *keys)) is not None), None)
        if value is not None:
            out[name] = value
    if "workflow" not in out and ancestors:
        out["workflow"] = ancestors[-1].name  # the root span the file has
    metadata = next((m for s in chain if isinstance(m := structured(s.attrs.get("metadata")), dict)), None)
    if metadata:
        out["metadata"] = metadata
    for s in reversed(chain):  # association properties: the nearest span's value wins
        out.update({k[len(_ASSOCIATION):]: v for k, v in s.attrs.items()
                    if k.startswith(_ASSOCIATION) and k[len(_ASSOCIATION):] not in out})
    service = _text(span.resource.get("service.name"))
    if service and not service.startswith("unknown_service"):
        out["service_name"] = service
    if project := _text(span.resource.get("openinference.project.name")):
        out["project"] = project
    return out


def _input(a: Mapping[str, Any]) -> list[dict[str, Any]] | str | None:
    """The chat messages sent (first flavour that has them), else the prompt text; None when not captured."""
    system = _genai_system(a.get("gen_ai.system_instructions"))
    value = structured(a.get("gen_ai.input.messages"))
    if isinstance(value, list):
        return system + [m for item in value if isinstance(item, dict) for m in _genai_message(item)]
    if isinstance(value, str):
        return value  # JSON text that did not parse (truncated): kept as the text it is
    if legacy := _indexed(a, "gen_ai.prompt."):
        return system + [_legacy_message(m) for m in legacy]
    if inference := _indexed(a, "llm.input_messages."):
        return system + [_oi_message(m.get("message") or {}) for m in inference]
    if system:
        return system
    prompts = [str(p.get("prompt", {}).get("text", "")) for p in _indexed(a, "llm.prompts.")]
    if prompts:
        return "\n".join(prompts)
    request = _json_value(a, "input")
    if isinstance(request, dict) and isinstance(request.get("messages"), list):
        return [m for m in request["messages"] if isinstance(m, dict)]  # an OpenAI request body, as sent
    return _text(a.get("input.value"))


def _output(a: Mapping[str, Any]) -> tuple[str | None, list[dict[str, Any]], Any]:
    """(text of the first output message, every tool call, the first message's finish reason)."""
    value = structured(a.get("gen_ai.output.messages"))
    if isinstance(value, list):
        messages = [m for item in value if isinstance(item, dict) for m in _genai_message(item)]
        first = value[0] if value and isinstance(value[0], dict) else {}
        return _content_of(messages), _calls(messages), first.get("finish_reason")
    if isinstance(value, str):
        return value, [], None
    if legacy := _indexed(a, "gen_ai.completion."):
        messages = [_legacy_message(m) for m in legacy]
        return _content_of(messages), _calls(messages), None
    if inference := _indexed(a, "llm.output_messages."):
        messages = [_oi_message(m.get("message") or {}) for m in inference]
        return _content_of(messages), _calls(messages), None
    choices = [str(c.get("completion", {}).get("text", "")) for c in _indexed(a, "llm.choices.")]
    if choices:
        return choices[0], [], None
    response = _json_value(a, "output")
    if isinstance(response, dict) and (bodies := _items(response.get("choices"))):
        message = bodies[0].get("message")
        message = message if isinstance(message, dict) else {}
        calls = [_call(c.get("id"), (c.get("function") or {}).get("name"), (c.get("function") or {}).get("arguments"))
                 for c in _items(message.get("tool_calls"))]  # an OpenAI response body
        return _text(message.get("content")), calls, bodies[0].get("finish_reason")
    plain = a.get("output.mime_type") in (None, "text/plain")
    return (_text(a.get("output.value")) if plain else None), [], None


def _json_value(a: Mapping[str, Any], name: str) -> Any:
    """OpenInference's ``input.value`` / ``output.value`` parsed, when its MIME type says JSON."""
    return structured(a.get(f"{name}.value")) if a.get(f"{name}.mime_type") == "application/json" else None


def _content_of(messages: list[dict[str, Any]]) -> str | None:
    return messages[0].get("content") if messages else None


def _calls(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for m in messages for call in m.get("tool_calls", ())]


def _genai_system(value: Any) -> list[dict[str, Any]]:
    parts = structured(value)
    if isinstance(parts, str) and parts:
        return [{"role": "system", "content": parts}]
    if not isinstance(parts, list) or not parts:
        return []
    return [{"role": "system", "content": "".join(str(p.get("content", "")) for p in parts
                                                   if isinstance(p, dict) and p.get("type") in _TEXT_PARTS)}]


def _genai_message(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A GenAI ``{role, parts}`` message as OpenAI-style messages (one per tool result)."""
    role, parts = str(message.get("role") or "user"), message.get("parts") or []
    results = [p for p in parts if isinstance(p, dict) and p.get("type") == "tool_call_response"]
    if results:
        return [{"role": role, "content": _result_text(p.get("response")), "tool_call_id": p.get("id")}
                for p in results]
    texts = [str(p.get("content", "")) for p in parts if isinstance(p, dict) and p.get("type") in _TEXT_PARTS]
    out: dict[str, Any] = {"role": role, "content": "".join(texts) if texts else None}
    calls = [_call(p.get("id"), p.get("name"), p.get("arguments"))
             for p in parts if isinstance(p, dict) and p.get("type") == "tool_call"]
    if calls:
        out["tool_calls"] = calls
    others = [p for p in parts if not isinstance(p, dict) or p.get("type") not in ("text", "tool_call")]
    if others:
        out["parts"] = others
    return [out]


def _legacy_message(m: dict[str, Any]) -> dict[str, Any]:
    """An OpenLLMetry ``gen_ai.prompt.N`` / ``gen_ai.completion.N`` group as an OpenAI-style message."""
    out: dict[str, Any] = {"role": str(m.get("role") or "user"), "content": _legacy_content(m.get("content"))}
    calls = [_call(c.get("id"), c.get("name"), c.get("arguments")) for c in _items(m.get("tool_calls"))]
    if calls:
        out["tool_calls"] = calls
    if m.get("tool_call_id"):
        out["tool_call_id"] = str(m["tool_call_id"])
    return out


def _legacy_content(value: Any) -> str | None:
    """Content is JSON text of parts when the message content was a list: its text parts are joined."""
    if isinstance(value, str) and value.startswith("["):
        parts = structured(value)
        if isinstance(parts, list) and all(isinstance(p, dict) for p in parts):
            return "".join(str(p.get("text", p.get("content", ""))) for p in parts if p.get("type", "text") == "text")
    return _text(value) if not isinstance(value, dict | list) else orjson.dumps(value).decode()


def _oi_message(m: dict[str, Any]) -> dict[str, Any]:
    """An OpenInference ``llm.*_messages.N.message`` group as an OpenAI-style message."""
    content = m.get("content")
    if content is None and (contents := _items(m.get("contents"))):
        content = "".join(str(c.get("message_content", {}).get("text", "")) for c in contents
                          if c.get("message_content", {}).get("type", "text") == "text")
    out: dict[str, Any] = {"role": str(m.get("role") or "user"), "content": _text(content)}
    calls = [_call((c.get("tool_call") or {}).get("id"), ((c.get("tool_call") or {}).get("function") or {}).get("name"),
                   ((c.get("tool_call") or {}).get("function") or {}).get("arguments"))
             for c in _items(m.get("tool_calls"))]
    if calls:
        out["tool_calls"] = calls
    for key in ("tool_call_id", "name"):
        if m.get(key):
            out[key] = str(m[key])
    return out


def _call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"id": _text(call_id), "name": str(name or ""), "arguments": tool_arguments(arguments)}


def _result_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _indexed(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Flattened ``prefix.N.a.b`` attributes as a list of nested dicts in index order (10 after 9);
    a nested run of numeric keys becomes a list too, and non-numeric ``prefix.x`` keys are ignored."""
    groups: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        head, _, rest = key[len(prefix):].partition(".")
        if head.isdigit() and rest:
            _put(groups.setdefault(int(head), {}), rest.split("."), value)
    return [group for i in sorted(groups) if isinstance(group := _listed(groups[i]), dict)]


def _put(node: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return  # a leaf and a group under one name: the leaf stays
        node = child
    node.setdefault(path[-1], value)


def _listed(node: dict[str, Any]) -> Any:
    converted = {k: _listed(v) if isinstance(v, dict) else v for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted
