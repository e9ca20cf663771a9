"""Read LLM trace files: goldband's own JSON Lines form and OTLP JSON exports (``read_traces``).

A file is read by its suffix:

* ``.jsonl`` / ``.ndjson``: one JSON object per line. A line with ``resourceSpans`` is an OTLP trace
  request (what the OpenTelemetry Collector's file exporter writes); any other line is one record in
  goldband's own form below. Both may share a file.
* ``.json``: one OTLP document (``{"resourceSpans": [...]}``, or an array of them), pretty-printed or
  not; a ``.json`` file whose first line is a whole JSON value is read line by line instead, as the
  collector's exporter writes JSON Lines under that name too (``data.json``).

OTLP spans become records as ``goldband.watch.otlp`` describes (GenAI semantic conventions,
OpenLLMetry, OpenInference). Lines are read one at a time, so memory does not grow with the file; a
whole ``.json`` document is the exception (it is one value).

goldband's own form, one object per line::

    {"trace_id": "t-1", "input": {"question": "Can I return shoes?"}, "output": "Yes, within 30 days.",
     "time": "2026-08-20T10:15:00Z", "version": "3", "latency_ms": 840, "usage": {"prompt_tokens": 58,
     "completion_tokens": 41}, "model": "gpt-4o", "metadata": {"channel": "web"}}

* ``trace_id`` (required): text or an integer.
* ``input`` (required): an object of input variables, a list of ``{"role", "content"}`` chat messages,
  or a string.
* ``output``: the answer text, or null (the default).
* ``time``: ISO text or Unix seconds; when absent the record's ``time`` is ``""``, meaning "when it is
  stored": the caller puts its own now there.
* ``version``, ``span_id``, ``model``, ``finish_reason``, ``error``: text (``finish_reason`` is
  normalised, ``tool_calls`` -> ``tool_call``, with the raw one kept as attribute ``finish_reason_raw``).
* ``tool_calls``: a list of ``{"id"?, "name", "arguments"?}``; arguments an object or text, kept as given.
* ``latency_ms``, ``cost`` (USD): numbers >= 0; ``input_tokens``, ``output_tokens``: whole numbers >= 0,
  also read from ``usage: {input_tokens | prompt_tokens, output_tokens | completion_tokens}``.
* ``metadata``: an object; it becomes the record's ``attributes``.

A key outside this list refuses the record, naming the closest known key: a misspelt ``latency`` is
never silently dropped. ``trace_object`` writes a record back in this form.

Line numbers: a record's line is the 1-based line of the JSON Lines file it came from; in a
pretty-printed ``.json`` document it is the line where the span's object opens (found by searching
for its ``"spanId"`` key; the key's own line when the braces are not where expected, 1 when the id is
not found).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from goldband.errors import MonitorError
from goldband.watch import otlp
from goldband.watch.records import to_time
from goldband.watch.tracerecords import TraceRecord

__all__ = ["TRACE_SUFFIXES", "read_traces", "trace_object"]

TRACE_SUFFIXES = (".jsonl", ".ndjson", ".json")
OWN_KEYS = ("trace_id", "input", "output", "time", "version", "span_id", "tool_calls", "latency_ms",
            "input_tokens", "output_tokens", "usage", "cost", "model", "finish_reason", "error", "metadata")
_USAGE = {"input_tokens": "input_tokens", "prompt_tokens": "input_tokens",
          "output_tokens": "output_tokens", "completion_tokens": "output_tokens", "total_tokens": ""}
_TOOL_CALL_KEYS = ("id", "name", "arguments")
_BOM = b"\xef\xbb\xbf"
_BINARY_MAGIC = (b"\x28\xb5\x2f\xfd", b"\x1f\x8b")  # zstd, gzip
_SPAN_ID = re.compile(rb'"spanId"\s*:\s*"([0-9A-Fa-f]*)"')
_OTLP_OTHER = ("resourceLogs", "resourceMetrics", "resourceProfiles")
_OTLP_EXPECTED = "OTLP JSON traces ({\"resourceSpans\": [...]}) or goldband trace records (trace_id, input, ...)"

Read = tuple[int, TraceRecord | str]


def read_traces(path: Path, *, app: str, display: str | None = None) -> Iterator[Read]:
    """``(line, record)`` for every LLM call in a trace file, or ``(line, message)`` for one that cannot
    be read (the caller refuses it as ``file:line: message`` and keeps the rest).

    A problem with the whole file raises ``MonitorError`` (``where`` = the file, or file:line): at the
    call for a missing file, an unknown suffix, binary data (a collector file written with ``format:
    proto`` or compression) or text that is not JSON; while reading for a ``.json`` document that does
    not parse or is not OTLP traces, an OTLP logs or metrics export, or a JSONL file whose first object
    is neither form. ``display`` is how errors name the file (default: the path). Every record gets
    ``app``; an empty file yields nothing.
    """
    where = display or str(path)
    suffix = path.suffix.lower()
    if suffix not in TRACE_SUFFIXES:
        raise MonitorError(f"unknown trace file type {path.suffix or '(no suffix)'!r}", where=where,
                           expected=" or ".join(TRACE_SUFFIXES), fix="rename it: .jsonl for JSON Lines, .json for "
                           "one OTLP JSON document")
    head = _head(path, where)
    if not head:
        return iter(())
    if suffix == ".json" and not _first_line_whole(path):
        return _document(path, where, app)
    return _lines(path, where, app)


def _head(path: Path, where: str) -> bytes:
    """The file's first bytes without blanks or BOM; refuses binary data (length-prefixed or compressed)."""
    try:
        with path.open("rb") as f:
            raw = f.read(4096)
    except FileNotFoundError:
        raise MonitorError("no such trace file", where=where, expected="an existing .jsonl or .json file",
                           fix="check the path") from None
    except OSError as exc:
        raise MonitorError(f"cannot read the trace file: {exc}", where=where) from None
    head = raw.removeprefix(_BOM).lstrip()
    if head and head[:1] not in (b"{", b"["):
        binary = b"\x00" in raw[:64] or raw.startswith(_BINARY_MAGIC)
        raise MonitorError("binary data, not JSON: a length-prefixed (format: proto) or compressed collector file"
                           if binary else f"not JSON: it starts with {head[:20]!r}", where=where,
                           expected=_OTLP_EXPECTED, fix="export with the collector's file exporter set to "
                           "format: json and no compression" if binary else "point at the trace export")
    return head


def _first_line_whole(path: Path) -> bool:
    """True when the first non-blank line is a whole JSON value (JSON Lines under a .json name)."""
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                try:
                    orjson.loads(line.removeprefix(_BOM))
                except orjson.JSONDecodeError:
                    return False
                return True
    return True


def _lines(path: Path, where: str, app: str) -> Iterator[Read]:
    """JSON Lines: each line an OTLP request or one record of goldband's own form."""
    first = True
    try:
        with path.open("rb") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                value = _parse(line.removeprefix(_BOM) if number == 1 else line)
                if isinstance(value, str):
                    yield number, value
                    continue
                _check_kind(value, first, f"{where}:{number}")
                first = False
                if isinstance(value, dict) and "resourceSpans" in value:
                    yield from otlp.records([value], app=app, line=number)
                elif isinstance(value, dict):
                    yield number, own_record(value, app=app)
                else:
                    yield number, f"a JSON {_kind(value)}, not an object; expected one record or request per line"
    except OSError as exc:
        raise MonitorError(f"cannot read the trace file: {exc}", where=where) from None


def _parse(line: bytes) -> Any:
    """One JSON value, or the message saying why the line is not one."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            return json.loads(line)
        except json.JSONDecodeError as exc:
            return f"malformed JSON: {exc.msg} (column {exc.colno})"
        except UnicodeDecodeError:
            return "not UTF-8 text"


def _check_kind(value: Any, first: bool, where: str) -> None:
    """Refuse a file of other OTLP signals, or whose first object is neither form (a wrong file)."""
    if not isinstance(value, dict):
        return
    other = next((k for k in _OTLP_OTHER if k in value), None)
    if other:
        raise MonitorError(f"an OTLP {other[8:].lower()} export ({other!r}), not traces", where=where,
                           expected=_OTLP_EXPECTED, fix="export the traces pipeline to its own file")
    if first and "resourceSpans" not in value and not {"trace_id", "input"} & value.keys():
        raise MonitorError(f"neither an OTLP request nor a trace record: keys {', '.join(list(value)[:6])}",
                           where=where, expected=_OTLP_EXPECTED, fix="point at a trace export")


def _document(path: Path, where: str, app: str) -> Iterator[Read]:
    """One OTLP JSON document (or an array of them), read whole: spans placed at their own lines."""
    data = path.read_bytes().removeprefix(_BOM)
    value = _parse(data)
    if isinstance(value, str):
        at = _error_line(data)
        raise MonitorError(value, where=f"{where}:{at}", expected="one OTLP JSON document",
                           fix="repair or re-export the file")
    requests = value if isinstance(value, list) else [value]
    for request in requests:
        _check_kind(request, False, where)
        if not isinstance(request, dict) or "resourceSpans" not in request:
            raise MonitorError(f"a JSON {_kind(request)} without 'resourceSpans'", where=where,
                               expected=_OTLP_EXPECTED, fix="save goldband trace records as .jsonl, one per line")
    yield from otlp.records(requests, app=app, line=1, span_lines=span_lines(data))


def _error_line(data: bytes) -> int:
    try:
        json.loads(data)
    except json.JSONDecodeError as exc:
        return exc.lineno
    except ValueError:
        pass
    return 1


def span_lines(data: bytes) -> dict[str, int]:
    """Span id -> the line where its span object opens, by a scan for ``"spanId"`` keys (the first one
    of each id wins; a link naming the span before the span itself would misplace it).

    >>> span_lines(b'{"spans": [\\n  {\\n    "traceId": "ab",\\n    "spanId": "CD"\\n  }\\n]}')
    {'cd': 2}
    """
    out: dict[str, int] = {}
    line, done = 1, 0
    for match in _SPAN_ID.finditer(data):
        key = match.group(1).decode().lower()
        if key in out:
            continue
        start = data.rfind(b"{", 0, match.start())
        between = data[start + 1:match.start()] if start >= 0 else b"}"
        at = start if b"}" not in between and b"[" not in between and b"{" not in between else match.start()
        line += data.count(b"\n", done, at)
        done = at
        out[key] = line
    return out


def _kind(value: Any) -> str:
    """A JSON value's type in JSON's words."""
    if isinstance(value, dict | list | str):
        return "object" if isinstance(value, dict) else "array" if isinstance(value, list) else "string"
    return type(value).__name__


# ---------------------------------------------------------------- goldband's own JSON Lines form


def own_record(row: Mapping[str, Any], *, app: str) -> TraceRecord | str:
    """One record of goldband's own form (module docstring), or the message saying why it is refused."""
    try:
        return _own(row, app)
    except ValueError as exc:
        return str(exc)


def _own(row: Mapping[str, Any], app: str) -> TraceRecord:
    _known(row.keys(), OWN_KEYS, "")
    for name in ("trace_id", "input"):
        if name not in row:
            raise ValueError(f"no {name!r}; expected a trace record with trace_id and input")
    usage = _usage(row.get("usage"))
    raw_finish = _optional_text(row, "finish_reason")
    attributes = dict(_metadata(row.get("metadata")))
    finish = None if raw_finish is None else otlp.finish_reason(raw_finish)
    if raw_finish is not None and finish != raw_finish:
        attributes["finish_reason_raw"] = raw_finish
    return TraceRecord(
        app=app, trace_id=_id(row["trace_id"], "trace_id", required=True), time=_time(row.get("time")),
        input=_input(row["input"]), output=_optional_text(row, "output"), span_id=_id(row.get("span_id"), "span_id"),
        version=_optional_text(row, "version"), tool_calls=_tool_calls(row.get("tool_calls")),
        latency_ms=_amount(row.get("latency_ms"), "latency_ms"),
        input_tokens=_tokens(row.get("input_tokens", usage.get("input_tokens")), "input_tokens"),
        output_tokens=_tokens(row.get("output_tokens", usage.get("output_tokens")), "output_tokens"),
        cost=_amount(row.get("cost"), "cost"), model=_optional_text(row, "model"), finish_reason=finish,
        error=_optional_text(row, "error"), attributes=attributes, source="jsonl")


def _known(keys: Any, known: tuple[str, ...], inside: str) -> None:
    for key in keys:
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(f"unknown key {key!r}{inside}{hint}; expected one of {', '.join(known)}")


def _id(value: Any, name: str, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int) or (required and value == ""):
        raise ValueError(f"{name!r} is {_short(value)}; expected non-empty text or an integer")
    return str(value)


def _time(value: Any) -> str:
    if value is None:
        return ""
    try:
        return to_time(value)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"'time' is {_short(value)}; expected ISO text or Unix seconds") from None


def _input(value: Any) -> dict[str, Any] | list[dict[str, Any]] | str:
    if isinstance(value, dict | str):
        return value
    if isinstance(value, list):
        for number, message in enumerate(value):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise ValueError(f"'input' message {number} is {_short(message)}; expected "
                                 "{\"role\": ..., \"content\": ...}")
        return value
    raise ValueError(f"'input' is {_short(value)}; expected an object of variables, a list of "
                     "{role, content} messages or a string")


def _optional_text(row: Mapping[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name!r} is {_short(value)}; expected text or null")
    return value


def _tool_calls(value: Any) -> tuple[dict[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"'tool_calls' is {_short(value)}; expected a list of {{id, name, arguments}}")
    calls = []
    for number, call in enumerate(value):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ValueError(f"'tool_calls' item {number} is {_short(call)}; expected {{\"name\": ..., "
                             "\"arguments\": ...}")
        _known(call.keys(), _TOOL_CALL_KEYS, f" in tool_calls item {number}")
        arguments = call.get("arguments", {})
        if not isinstance(arguments, dict | str) or not isinstance(call.get("id"), str | None):
            raise ValueError(f"'tool_calls' item {number}: expected text 'id' and object or text 'arguments'")
        calls.append({"id": call.get("id"), "name": call["name"], "arguments": arguments})
    return tuple(calls)


def _amount(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name!r} is {_short(value)}; expected a number >= 0")
    return float(value)


def _tokens(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
        raise ValueError(f"{name!r} is {_short(value)}; expected a whole number of tokens >= 0")
    return int(value)


def _usage(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"'usage' is {_short(value)}; expected {{input_tokens, output_tokens}}")
    _known(value.keys(), tuple(_USAGE), " in usage")
    return {_USAGE[k]: v for k, v in value.items() if _USAGE[k]}


def _metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"'metadata' is {_short(value)}; expected an object")
    return value


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def trace_object(record: TraceRecord) -> dict[str, Any]:
    """A record in goldband's own JSON Lines form (what ``read_traces`` reads back as an equal record;
    ``app`` is not written: it is the reader's ``app``).

    >>> trace_object(TraceRecord(app="a", trace_id="t", time="", input="hi", output="hello"))
    {'trace_id': 't', 'input': 'hi', 'output': 'hello'}
    """
    out: dict[str, Any] = {"trace_id": record.trace_id, "input": record.input, "output": record.output}
    optional = {"time": record.time or None, "span_id": record.span_id or None, "version": record.version,
                "tool_calls": list(record.tool_calls) or None, "latency_ms": record.latency_ms,
                "input_tokens": record.input_tokens, "output_tokens": record.output_tokens, "cost": record.cost,
                "model": record.model, "finish_reason": record.attributes.get("finish_reason_raw",
                                                                               record.finish_reason),
                "error": record.error,
                "metadata": {k: v for k, v in record.attributes.items() if k != "finish_reason_raw"} or None}
    out.update({k: v for k, v in optional.items() if v is not None})
    return out
