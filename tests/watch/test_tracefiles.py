"""Trace files into records: the three published OTLP flavours, goldband's own JSON Lines, and bad input."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldband.errors import MonitorError
from goldband.watch.records import to_time
from goldband.watch.tracefiles import read_traces, span_lines, trace_object
from goldband.watch.tracerecords import TraceRecord

FIXTURES = Path(__file__).parent / "fixtures" / "otlp"
T0 = 1787220900_000000000  # 2026-08-20T10:15:00Z in nanoseconds


def read(path: Path, app: str = "support-bot") -> list[tuple[int, TraceRecord | str]]:
    return list(read_traces(path, app=app))


def records(path: Path, app: str = "support-bot") -> list[TraceRecord]:
    out = read(path, app)
    assert all(isinstance(r, TraceRecord) for _, r in out), out
    return [r for _, r in out]  # type: ignore[misc]


# ---------------------------------------------------------------- small OTLP builders


def s(value: str) -> dict[str, Any]:
    return {"stringValue": value}


def kv(**attrs: Any) -> list[dict[str, Any]]:
    return [{"key": k.replace("__", "."), "value": v} for k, v in attrs.items()]


def span(span_id: str, attrs: list[dict[str, Any]], *, parent: str = "", trace: str = "AB" * 16, start: int = 0,
         end: int = 500, **extra: Any) -> dict[str, Any]:
    out = {"traceId": trace, "spanId": span_id, "parentSpanId": parent, "name": extra.pop("name", "chat m"),
           "kind": 3, "startTimeUnixNano": str(T0 + start * 1_000_000),
           "endTimeUnixNano": str(T0 + end * 1_000_000), "attributes": attrs}
    out.update(extra)
    return out


def request(*spans: dict[str, Any], version: str = "2.0") -> dict[str, Any]:
    resource = {"attributes": kv(service__name=s("bot"), service__version=s(version))}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "t"}, "spans": list(spans)}]}]}


def chat(**more: Any) -> list[dict[str, Any]]:
    base = {"gen_ai__operation__name": s("chat"), "gen_ai__request__model": s("m")}
    return kv(**base, **more)


def write_lines(path: Path, *values: Any) -> Path:
    path.write_text("".join((v if isinstance(v, str) else json.dumps(v)) + "\n" for v in values), encoding="utf-8")
    return path


# ---------------------------------------------------------------- the three research fixtures


def test_genai_semconv_jsonl_gives_three_calls_and_skips_the_agent_and_tool_spans() -> None:
    out = read(FIXTURES / "genai-semconv.otlp.jsonl")
    assert [(line, r.span_id) for line, r in out] == [  # type: ignore[union-attr]
        (1, "eee19b7ec3c1b174"), (2, "1a2b3c4d5e6f7081"), (2, "3c4d5e6f708192a3")]
    first, call, answer = (r for _, r in out)
    assert isinstance(first, TraceRecord) and isinstance(call, TraceRecord) and isinstance(answer, TraceRecord)
    assert (first.app, first.trace_id, first.version, first.source) == (
        "support-bot", "5b8efff798038103d269b633813fc60c", "1.4.2", "otlp")
    assert first.time == "2026-08-20T10:15:00.000+00:00" and first.latency_ms == 1840.0
    assert first.input == [{"role": "system", "content": "You are the Acme support assistant. Answer briefly."},
                           {"role": "user", "content": "How do I reset my password?"}]
    assert first.output is not None and first.output.startswith("Go to Settings > Security")
    assert (first.input_tokens, first.output_tokens, first.model, first.finish_reason, first.cost) == (
        58, 41, "gpt-4o-2024-08-06", "stop", None)
    assert first.attributes == {
        "source_format": "genai", "span_name": "chat gpt-4o", "provider": "openai", "request_model": "gpt-4o",
        "response_id": "chatcmpl-9J3uIL87gldCFtiIbyaOvTeYBRA3l", "conversation_id": "conv_5j66UpCpwteGg4YSxUnt7lPY",
        "service_name": "support-bot"}
    assert call.output is None and call.finish_reason == "tool_call"
    assert call.tool_calls == ({"id": "call_VSPygqKTWdrhaFErNvMV18Yl", "name": "get_weather",
                                "arguments": {"location": "Paris"}},)
    assert call.attributes["agent"] == "weather_agent"
    assert call.attributes["workflow"] == "invoke_agent weather_agent"  # the root span, inherited
    assert call.time == "2026-08-20T10:15:00.005+00:00" and call.latency_ms == 905.0
    assert answer.input == [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_VSPygqKTWdrhaFErNvMV18Yl", "name": "get_weather", "arguments": {"location": "Paris"}}]},
        {"role": "tool", "content": "rainy, 57°F", "tool_call_id": "call_VSPygqKTWdrhaFErNvMV18Yl"}]
    assert answer.output == "It's currently rainy in Paris, around 57°F." and answer.tool_calls == ()
    assert (answer.input_tokens, answer.output_tokens, answer.attributes["cache_read_input_tokens"]) == (112, 19, 64)


def test_openllmetry_legacy_indexed_attributes_give_two_calls_with_the_workflow_context() -> None:
    out = read(FIXTURES / "openllmetry.otlp.json")
    assert [line for line, _ in out] == [161, 360]  # the lines where the two span objects open
    call, answer = (r for _, r in out)
    assert isinstance(call, TraceRecord) and isinstance(answer, TraceRecord)
    assert (call.trace_id, call.span_id, call.version) == ("0af7651916cd43dd8448eb211c80319c", "c8be7c8270314442",
                                                           "1.4.2")
    assert call.input == [{"role": "system", "content": "You are the Acme support assistant."},
                          {"role": "user", "content": "Where is my order A-1009?"}]
    assert call.output is None and call.finish_reason == "tool_call"
    assert call.tool_calls == ({"id": "call_Qx81mZ2rTb", "name": "get_order_status",
                                "arguments": {"order_id": "A-1009"}},)
    assert (call.input_tokens, call.output_tokens, call.latency_ms, call.model) == (
        78, 18, 1160.0, "gpt-4o-mini-2024-07-18")
    assert {k: call.attributes[k] for k in ("source_format", "finish_reason_raw", "workflow", "user_id",
                                            "session_id", "total_tokens", "provider", "response_id")} == {
        "source_format": "openllmetry", "finish_reason_raw": "tool_calls", "workflow": "support_flow",
        "user_id": "u_1842", "session_id": "sess_7f3a", "total_tokens": 96, "provider": "openai",
        "response_id": "chatcmpl-B1c2D3e4F5g6H7i8"}
    assert answer.input[2:] == [  # type: ignore[index]
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_Qx81mZ2rTb", "name": "get_order_status", "arguments": {"order_id": "A-1009"}}]},
        {"role": "tool", "content": '{"status": "shipped", "eta": "Friday"}', "tool_call_id": "call_Qx81mZ2rTb"}]
    assert answer.output == "Your order A-1009 shipped yesterday and should arrive on Friday."
    assert (answer.finish_reason, answer.input_tokens, answer.output_tokens) == ("stop", 115, 16)
    assert "finish_reason_raw" not in answer.attributes


def test_openinference_gives_one_call_with_cost_and_context_from_the_chain_span() -> None:
    out = read(FIXTURES / "openinference.otlp.json")
    assert len(out) == 1 and out[0][0] == 51
    rec = out[0][1]
    assert isinstance(rec, TraceRecord)
    assert (rec.trace_id, rec.span_id, rec.version, rec.model) == (
        "8f2c1d0e9b7a65544332211ffeeddccb", "b2c3d4e5f6071829", "1.4.2", "gpt-4o-2024-08-06")
    assert rec.input == [{"role": "system", "content": "You are the Acme support assistant."},
                         {"role": "user", "content": "Where is my order A-1009?"}]
    assert rec.output is None and rec.tool_calls == (
        {"id": "call_62136355", "name": "get_order_status", "arguments": {"order_id": "A-1009"}},)
    assert (rec.input_tokens, rec.output_tokens, rec.cost, rec.finish_reason, rec.latency_ms) == (
        82, 18, 0.000385, "tool_call", 1275.0)
    assert {k: rec.attributes[k] for k in ("source_format", "session_id", "user_id", "metadata", "tags", "workflow",
                                           "project", "provider", "total_tokens")} == {
        "source_format": "openinference", "session_id": "sess_7f3a", "user_id": "u_1842",
        "metadata": {"app_version": "1.4.2", "channel": "web"}, "tags": ["support", "prod"],
        "workflow": "support_flow", "project": "support-bot", "provider": "openai", "total_tokens": 100}


def test_openllmetry_current_form_reads_as_genai_with_association_properties() -> None:
    (line, rec), = read(FIXTURES / "openllmetry-v0.62.otlp.json")
    assert line == 27 and isinstance(rec, TraceRecord)
    assert rec.output == "No, it arrives tomorrow."  # text parts joined
    assert rec.input == [{"role": "system", "content": "You are the Acme support assistant."},
                         {"role": "user", "content": "Is order A-2 late?"}]
    assert (rec.version, rec.input_tokens, rec.output_tokens, rec.latency_ms) == ("1.5.0", 40, 12, 1250.0)
    assert {k: rec.attributes[k] for k in ("source_format", "total_tokens", "user_id", "tenant", "workflow",
                                           "conversation_id")} == {
        "source_format": "genai", "total_tokens": 52, "user_id": "u_77", "tenant": "acme",
        "workflow": "support_flow", "conversation_id": "conv_91"}


# ---------------------------------------------------------------- OTLP variants the fixtures do not cover


def test_structured_kvlist_and_array_content_reads_like_json_text(tmp_path: Path) -> None:
    def part(text: str) -> dict[str, Any]:
        return {"kvlistValue": {"values": kv(type=s("text"), content=s(text))}}

    def message(role: str, text: str) -> dict[str, Any]:
        return {"kvlistValue": {"values": kv(role=s(role), parts={"arrayValue": {"values": [part(text)]}})}}

    attrs = chat(gen_ai__input__messages={"arrayValue": {"values": [message("user", "Hi")]}},
                 gen_ai__output__messages={"arrayValue": {"values": [message("assistant", "Hello")]}},
                 gen_ai__usage__input_tokens={"intValue": 7}, gen_ai__usage__output_tokens={"intValue": "2"})
    (_, rec), = read(write_lines(tmp_path / "t.jsonl", request(span("01" * 8, attrs))))
    assert isinstance(rec, TraceRecord)
    assert (rec.input, rec.output, rec.input_tokens, rec.output_tokens) == (
        [{"role": "user", "content": "Hi"}], "Hello", 7, 2)


def test_pre_0_48_token_names_and_the_old_provider_key_are_read(tmp_path: Path) -> None:
    attrs = kv(llm__request__type=s("chat"), gen_ai__system=s("Azure"), gen_ai__request__model=s("gpt-4"),
               gen_ai__usage__prompt_tokens={"intValue": "30"}, gen_ai__usage__completion_tokens={"intValue": "9"},
               **{"gen_ai__prompt__0__role": s("user"), "gen_ai__prompt__0__content": s("Q"),
                  "gen_ai__completion__0__content": s("A"), "gen_ai__completion__0__finish_reason": s("length"),
                  "gen_ai__prompt__prompt_filter_results": s("[]")})
    (_, rec), = read(write_lines(tmp_path / "t.jsonl", request(span("02" * 8, attrs, name="openai.chat"))))
    assert isinstance(rec, TraceRecord)
    assert (rec.input_tokens, rec.output_tokens, rec.attributes["provider"], rec.model) == (30, 9, "Azure", "gpt-4")
    assert (rec.input, rec.output, rec.finish_reason) == ([{"role": "user", "content": "Q"}], "A", "length")


def test_an_error_span_carries_its_exception_and_a_status_message_wins(tmp_path: Path) -> None:
    event = {"timeUnixNano": str(T0), "name": "exception", "attributes": kv(
        exception__type=s("openai.RateLimitError"), exception__message=s("Rate limit reached"))}
    failed = span("03" * 8, chat(error__type=s("openai.RateLimitError")), status={"code": 2}, events=[event])
    said = span("04" * 8, chat(), status={"code": 2, "message": "timed out"})
    fine = span("05" * 8, chat(), status={"code": 1, "message": "ignored"})
    out = records(write_lines(tmp_path / "t.jsonl", request(failed, said, fine)))
    assert [r.error for r in out] == ["openai.RateLimitError: Rate limit reached", "timed out", None]
    assert out[0].attributes["content_missing"] is True and out[0].input == [] and out[0].output is None


def test_openinference_request_and_response_bodies_stand_in_for_unflattened_messages(tmp_path: Path) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "Where is A-1?"}]}
    reply = {"choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "track", "arguments": "{}"}}]}}]}
    attrs = kv(openinference__span__kind=s("LLM"), input__value=s(json.dumps(body)),
               input__mime_type=s("application/json"), output__value=s(json.dumps(reply)),
               output__mime_type=s("application/json"), llm__invocation_parameters=s('{"model": "m-1"}'))
    (_, rec), = read(write_lines(tmp_path / "t.jsonl", request(span("0e" * 8, attrs, name="ChatCompletion"))))
    assert isinstance(rec, TraceRecord)
    assert (rec.input, rec.output, rec.finish_reason, rec.model) == (body["messages"], None, "tool_call", "m-1")
    assert rec.tool_calls == ({"id": "c1", "name": "track", "arguments": {}},)


def test_nested_llm_spans_keep_the_innermost_and_a_missing_parent_is_a_root(tmp_path: Path) -> None:
    outer = span("0a" * 8, kv(openinference__span__kind=s("LLM")), parent="ff" * 8, name="ChatOpenAI")
    inner = span("0b" * 8, chat(), parent="0a" * 8)
    tool = span("0c" * 8, kv(gen_ai__operation__name=s("execute_tool")), parent="0a" * 8)
    embed = span("0d" * 8, kv(llm__request__type=s("embedding")))
    out = records(write_lines(tmp_path / "t.jsonl", request(outer, inner, tool, embed)))
    assert [(r.span_id, r.attributes["workflow"]) for r in out] == [("0b" * 8, "ChatOpenAI")]


def test_a_bad_span_is_one_message_and_its_neighbours_are_still_read(tmp_path: Path) -> None:
    no_start = span("06" * 8, chat())
    no_start["startTimeUnixNano"] = "0"
    backwards = span("07" * 8, chat(), start=10, end=5)
    negative = span("08" * 8, chat(gen_ai__usage__input_tokens={"intValue": "-3"}))
    nan = span("0a" * 8, chat(gen_ai__usage__output_tokens={"doubleValue": "NaN"}))
    no_trace = span("0b" * 8, chat(), trace="")
    good = span("09" * 8, chat())
    path = write_lines(tmp_path / "t.jsonl", request(good),
                       request(no_start, backwards, negative, nan, no_trace, good))
    out = read(path)
    assert [line for line, _ in out] == [1, 2, 2, 2, 2, 2, 2]
    messages = [r for _, r in out if isinstance(r, str)]
    assert "no startTimeUnixNano" in messages[0] and "before startTimeUnixNano" in messages[1]
    assert "'gen_ai.usage.input_tokens' is -3" in messages[2] and messages[0].startswith("span 0606")
    assert "'gen_ai.usage.output_tokens' is nan" in messages[3] and "no traceId" in messages[4]
    assert isinstance(out[-1][1], TraceRecord) and out[-1][1].trace_id == "ab" * 16  # ids lower-cased


def test_a_malformed_otlp_line_in_the_middle_is_reported_at_its_line(tmp_path: Path) -> None:
    good = request(span("01" * 8, chat()))
    path = write_lines(tmp_path / "collector.jsonl", good, '{"resourceSpans": [', "", good,
                       {"resourceSpans": {"oops": 1}})
    out = read(path)
    assert [line for line, _ in out] == [1, 2, 4, 5]
    assert isinstance(out[1][1], str) and out[1][1].startswith("malformed JSON")
    assert out[3][1] == "not an OTLP trace request: 'resourceSpans' is a dict, expected a list"
    assert isinstance(out[2][1], TraceRecord) and out[2][1].version == "2.0"


def test_a_collector_json_file_of_json_lines_and_an_array_document_are_read(tmp_path: Path) -> None:
    one, two = request(span("01" * 8, chat())), request(span("02" * 8, chat()))
    assert [line for line, _ in read(write_lines(tmp_path / "data.json", one, two))] == [1, 2]
    (tmp_path / "array.json").write_text(json.dumps([one, two], indent=1))
    assert [r.span_id for r in records(tmp_path / "array.json")] == ["01" * 8, "02" * 8]


def test_span_ids_are_placed_at_their_object_or_their_key_line() -> None:
    data = b'{"spans": [\n{"traceId": "a",\n "attributes": [{"k": 1}], "spanId": "EE"}\n]}'
    assert span_lines(data) == {"ee": 3}


# ---------------------------------------------------------------- goldband's own JSON Lines form


def test_own_form_reads_every_field(tmp_path: Path) -> None:
    row = {"trace_id": 42, "input": [{"role": "user", "content": "Hi"}], "output": "Hello", "time": 1_787_220_900,
           "version": "7", "span_id": "s1", "tool_calls": [{"name": "find", "arguments": '{"q": 1}'}],
           "latency_ms": 12, "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
           "cost": 0.001, "model": "m", "finish_reason": "tool_calls", "error": None, "metadata": {"user_id": "u"}}
    (line, rec), = read(write_lines(tmp_path / "t.jsonl", row), app="bot")
    assert line == 1 and rec == TraceRecord(
        app="bot", trace_id="42", time="2026-08-20T10:15:00.000+00:00", input=[{"role": "user", "content": "Hi"}],
        output="Hello", span_id="s1", version="7", tool_calls=({"id": None, "name": "find", "arguments": '{"q": 1}'},),
        latency_ms=12.0, input_tokens=5, output_tokens=2, cost=0.001, model="m", finish_reason="tool_call",
        attributes={"user_id": "u", "finish_reason_raw": "tool_calls"}, source="jsonl")


def test_own_form_without_a_time_leaves_it_to_the_caller(tmp_path: Path) -> None:
    (_, rec), = read(write_lines(tmp_path / "t.jsonl", {"trace_id": "t", "input": "hi"}))
    assert isinstance(rec, TraceRecord) and (rec.time, rec.output, rec.span_id) == ("", None, "")


@pytest.mark.parametrize(("row", "message"), [
    ({"trace_id": "t", "input": "x", "latency": 3}, "unknown key 'latency' (did you mean 'latency_ms'?)"),
    ({"trace_id": "t", "input": "x", "latency_ms": "abc"}, "'latency_ms' is 'abc'; expected a number >= 0"),
    ({"trace_id": "t", "input": "x", "output_tokens": -1}, "'output_tokens' is -1; expected a whole number"),
    ({"trace_id": "t", "input": "x", "usage": {"prompt_tokenz": 1}}, "unknown key 'prompt_tokenz' in usage"),
    ({"trace_id": "t", "input": 3}, "'input' is 3; expected an object of variables"),
    ({"trace_id": "t", "input": [{"content": "no role"}]}, "'input' message 0 is"),
    ({"trace_id": "", "input": "x"}, "'trace_id' is ''; expected non-empty text"),
    ({"input": "x"}, "no 'trace_id'"),
    ({"trace_id": "t", "input": "x", "time": "yesterday"}, "'time' is 'yesterday'; expected ISO text"),
    ({"trace_id": "t", "input": "x", "tool_calls": [{"name": "f", "args": {}}]},
     "unknown key 'args' in tool_calls item 0 (did you mean 'arguments'?)"),
])
def test_a_bad_own_record_is_refused_with_a_message_and_the_rest_is_read(
        tmp_path: Path, row: dict[str, Any], message: str) -> None:
    good = {"trace_id": "ok", "input": "x"}
    out = read(write_lines(tmp_path / "t.jsonl", good, row, "not json", good))
    assert [line for line, _ in out] == [1, 2, 3, 4]
    assert isinstance(out[1][1], str) and message in out[1][1], out[1][1]
    assert isinstance(out[2][1], str) and out[2][1].startswith("malformed JSON")
    assert isinstance(out[3][1], TraceRecord) and out[3][1].trace_id == "ok"


# ---------------------------------------------------------------- file-level errors


def refused(path: Path) -> MonitorError:
    with pytest.raises(MonitorError) as info:
        list(read_traces(path, app="a", display="traces/x"))
    return info.value


def test_a_missing_file_or_an_unknown_suffix_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(MonitorError, match="no such trace file"):
        read_traces(tmp_path / "nope.jsonl", app="a")  # at the call, before any record is asked for
    missing = refused(tmp_path / "nope.jsonl")
    assert (missing.where, missing.expected) == ("traces/x", "an existing .jsonl or .json file")
    (tmp_path / "t.csv").write_text("a,b\n")
    csv = refused(tmp_path / "t.csv")
    assert csv.what == "unknown trace file type '.csv'" and csv.expected == ".jsonl or .ndjson or .json"


def test_a_length_prefixed_collector_file_is_refused_as_binary(tmp_path: Path) -> None:
    body = json.dumps(request(span("01" * 8, chat()))).encode()
    (tmp_path / "data.json").write_bytes(struct.pack(">I", len(body)) + body)
    err = refused(tmp_path / "data.json")
    assert err.what.startswith("binary data, not JSON: a length-prefixed") and err.where == "traces/x"
    assert err.fix is not None and "format: json and no compression" in err.fix


@pytest.mark.parametrize(("name", "text", "where", "what"), [
    ("doc.json", '{\n  "spans": []\n}\n', "traces/x", "a JSON object without 'resourceSpans'"),
    ("doc.json", '{\n  "resourceSpans": [\n    {,\n', "traces/x:3", "malformed JSON"),
    ("logs.jsonl", '{"resourceLogs": []}\n', "traces/x:1", "an OTLP logs export ('resourceLogs'), not traces"),
    ("rows.jsonl", '\n{"prediction": 1, "id": 2}\n', "traces/x:2", "neither an OTLP request nor a trace record"),
])
def test_a_document_of_neither_form_is_refused_with_where_and_expected(
        tmp_path: Path, name: str, text: str, where: str, what: str) -> None:
    (tmp_path / name).write_text(text)
    err = refused(tmp_path / name)
    assert err.where == where and err.what.startswith(what), str(err)
    assert err.expected is not None


def test_an_empty_file_has_no_records(tmp_path: Path) -> None:
    (tmp_path / "t.jsonl").write_text("\n\n")
    assert read(tmp_path / "t.jsonl") == []


# ---------------------------------------------------------------- round trip


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | _TEXT
                     | st.floats(allow_nan=False, allow_infinity=False),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
                     max_leaves=8)
_MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant", "tool"]),
                                  "content": _TEXT | st.none()})
_TOOL_CALL = st.fixed_dictionaries({"id": _TEXT | st.none(), "name": _TEXT,
                                    "arguments": st.dictionaries(_TEXT, _JSON, max_size=3) | _TEXT})
_TIME = st.integers(0, 4_000_000_000_000).map(lambda ms: to_time(ms / 1000))
_RECORDS = st.builds(
    TraceRecord, app=st.just("bot"), trace_id=_TEXT.filter(bool), time=st.just("") | _TIME,
    input=st.dictionaries(_TEXT, _JSON, max_size=3) | st.lists(_MESSAGE, max_size=3) | _TEXT,
    output=_TEXT | st.none(), span_id=_TEXT, version=_TEXT | st.none(),
    tool_calls=st.lists(_TOOL_CALL, max_size=2).map(tuple),
    latency_ms=st.none() | st.floats(0, 1e7), input_tokens=st.none() | st.integers(0, 10**9),
    output_tokens=st.none() | st.integers(0, 10**9), cost=st.none() | st.floats(0, 1e3),
    model=_TEXT | st.none(),
    finish_reason=st.sampled_from([None, "stop", "length", "tool_call", "content_filter", "error"]),
    error=_TEXT | st.none(), attributes=st.dictionaries(_TEXT.filter(lambda k: k != "finish_reason_raw"), _JSON,
                                                        max_size=3),
    source=st.just("jsonl"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(_RECORDS, min_size=1, max_size=4))
def test_own_form_round_trips(tmp_path: Path, batch: list[TraceRecord]) -> None:
    path = tmp_path / "round.jsonl"
    path.write_text("".join(json.dumps(trace_object(r), ensure_ascii=False) + "\n" for r in batch), encoding="utf-8")
    assert records(path, app="bot") == batch
