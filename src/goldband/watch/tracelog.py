"""``TraceLogger``: log an LLM application's production calls, and feedback on them, without slowing it down.

The LLM counterpart of ``PredictionLogger`` with the same guarantees (see
``goldband.watch.background``): ``log()`` copies its arguments onto a bounded
queue (a few microseconds), never raises, and returns the trace id; one
background thread builds the rows, runs the app's **redaction hook** on each
record before anything is stored, and writes them in batches. A record whose
hook raises is not stored at all (never stored unredacted) and is counted as
``redaction_failed``, naming the trace id and the error, never the data.

``version`` may be a registry reference (``support@production``): it is
resolved once, when the logger starts, to the version it names, because that
is what this process serves until it restarts.

Feedback arrives later, by trace id, from any process: ``record_feedback``
writes it at once (an unknown trace id is an error, so a typo does not vanish).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "store.db"
>>> with TraceLogger("support", store=path, version="3") as log:
...     tid = log.log({"question": "Can I return shoes after 40 days?"}, "No, within 30 days.",
...                   latency_ms=812.0, input_tokens=41, output_tokens=9)
>>> log.stats().written
1
>>> record_feedback(path, "support", tid, thumbs="down", comment="it is 30 days from delivery").written
2
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from goldband._util.environment import resolve_environment
from goldband._util.imports import import_callable
from goldband.clock import Clock, SystemClock, iso
from goldband.errors import ConfigError, MonitorError, RowRefused
from goldband.store import open_store
from goldband.store import registry as registry_db
from goldband.watch import traces
from goldband.watch.background import BackgroundWriter, LogStats
from goldband.watch.records import Issue, to_time
from goldband.watch.tracerecords import TraceRecord

__all__ = ["FeedbackResult", "LogStats", "Redactor", "TraceLogger", "apply_redaction", "feedback_rows",
           "record_feedback", "redactor", "resolve_version", "trace_record", "with_version"]

Redactor = Callable[[TraceRecord], TraceRecord]


class TraceLogger(BackgroundWriter):
    """Log production LLM calls of ``app``; see the module docstring.

    ``redact`` is a function ``TraceRecord -> TraceRecord`` (or its ``module:function`` path) run on every
    record before it is stored. ``store`` is the store file (created if needed; an unusable path, an unknown
    registry reference or an unimportable hook raise here, at start-up, never later). ``environment`` is where
    the app serves (``production``, ``eu-west``; default: ``GOLDBAND_ENVIRONMENT``, else the default one).
    """

    def __init__(self, app: str, *, store: str | Path = ".goldband/store.db", version: str = "1",
                 redact: Redactor | str | None = None, max_queue: int = 100_000, batch_size: int = 1000,
                 flush_interval_s: float = 1.0, retry_s: float = 1.0, clock: Clock | None = None,
                 root: str | Path = ".", environment: str | None = None) -> None:
        if not isinstance(app, str) or not app.strip():
            raise ConfigError(f"app name {app!r}", where="TraceLogger", expected="a non-empty string")
        self.app = app
        # where the app serves (default: GOLDBAND_ENVIRONMENT, else the default); a bad name raises here
        self.environment = resolve_environment(environment, where="TraceLogger(environment=...)")
        self.redact = redactor(redact, Path(root))
        super().__init__(app, store=store, max_queue=max_queue, batch_size=batch_size,
                         flush_interval_s=flush_interval_s, retry_s=retry_s, clock=clock)
        self.version = resolve_version(self._store.conn, str(version))

    # -- the serving path: never raises -----------------------------------------------------
    def log(self, input: Mapping[str, Any] | Sequence[Mapping[str, Any]] | str, output: str | None, *,
            trace_id: str | None = None, tool_calls: Sequence[Mapping[str, Any]] = (),
            latency_ms: float | None = None, input_tokens: int | None = None, output_tokens: int | None = None,
            cost: float | None = None, model: str | None = None, finish_reason: str | None = None,
            error: str | None = None, attributes: Mapping[str, Any] | None = None, time: Any = None,
            span_id: str = "") -> str | None:
        """Queue one call; returns its trace id (generated when not given), or None if it was dropped."""
        try:
            tid = f"{self._id_prefix}{next(self._ids):x}" if trace_id is None else trace_id
            item = (tid, input, output, tool_calls, latency_ms, input_tokens, output_tokens, cost, model,
                    finish_reason, error, attributes, self._stamp(time), span_id)
            return str(tid) if self._put(item) else None
        except Exception as exc:  # the caller's request must never fail because of monitoring
            self._note_internal(exc)
            return None

    # -- the writer thread ------------------------------------------------------------------
    def _row(self, item: tuple[Any, ...], issues: list[Issue]) -> TraceRecord:
        (tid, value, output, tools, latency, tokens_in, tokens_out, cost, model, finish, error, attributes,
         when, span) = item
        record = trace_record(self.app, self.version, tid, value, output, time=when, span_id=span,
                              tool_calls=tools, latency_ms=latency, input_tokens=tokens_in,
                              output_tokens=tokens_out, cost=cost, model=model, finish_reason=finish,
                              error=error, attributes=attributes)
        return apply_redaction(self.redact, record)

    def _store_rows(self, conn: sqlite3.Connection, rows: list[Any], stamp: str | None) -> tuple[int, list[Issue]]:
        return traces.insert_traces(conn, rows, stamp=stamp or iso((self._clock or SystemClock()).now()),
                                    default_version=self.version, environment=self.environment)


def resolve_version(conn: sqlite3.Connection, version: str) -> str:
    """A registry reference (``name@alias``) as the version it names now; any other text as it is."""
    if "@" not in version:
        return version
    found = registry_db.lookup(conn, version)
    if found is None:
        raise ConfigError(f"the registry has no version for {version!r}", where="TraceLogger(version=...)",
                          expected="a registered model and an alias that points at a version",
                          fix="goldband registry list shows the models and aliases; or give the version itself")
    return found.version


def redactor(redact: Redactor | str | None, root: Path) -> Redactor | None:
    """The hook itself, imported from ``module:function`` (the project folder ``root`` importable)."""
    if redact is None or callable(redact):
        return redact
    try:
        return import_callable(redact, root)
    except ConfigError as exc:
        raise ConfigError(exc.what, where="redact", fix=exc.fix) from None


def apply_redaction(redact: Redactor | None, record: TraceRecord) -> TraceRecord:
    """The record as the hook leaves it; RowRefused (not stored, counted) when the hook raises or returns
    something else, so nothing unredacted is ever written."""
    if redact is None:
        return record
    try:
        done = redact(record)
    except Exception as exc:
        why = f"trace {record.trace_id!r}: the redaction hook raised {type(exc).__name__}: {exc}; not stored"
        raise RowRefused(Issue("redaction_failed", "redact", why)) from None
    if not isinstance(done, TraceRecord):
        raise RowRefused(Issue("redaction_failed", "redact", f"trace {record.trace_id!r}: the redaction hook "
                                                             f"returned {type(done).__name__}, not a TraceRecord; "
                                                             "not stored"))
    return done


# -- one record from loose values ------------------------------------------------------------


def trace_record(app: str, version: str | None, trace_id: Any, value: Any, output: Any, *, time: Any,
                 span_id: Any = "", tool_calls: Any = (), latency_ms: Any = None, input_tokens: Any = None,
                 output_tokens: Any = None, cost: Any = None, model: Any = None, finish_reason: Any = None,
                 error: Any = None, attributes: Any = None, source: str = "logger") -> TraceRecord:
    """A ``TraceRecord`` from what a caller passed; RowRefused naming the field when one cannot be read.

    The usual call (text ids, a dict or text input, float or missing numbers, no tool calls or attributes)
    is recognised by the exact types at once, without a check per field: a third of the writer's time.
    """
    if (type(trace_id) is str and trace_id and type(value) in _INPUTS and (output is None or type(output) is str)
            and not tool_calls and attributes is None and span_id == "" and _plain(latency_ms, cost)
            and _whole(input_tokens, output_tokens) and _texts(model, finish_reason, error)
            and (type(value) is not dict or all(type(k) is str for k in value))):
        return TraceRecord(app, trace_id, _time(time, trace_id), value, output, "", version, (), latency_ms,
                           input_tokens, output_tokens, cost, model, finish_reason, error, {}, source)
    tid = _text(trace_id, "trace_id", required=True) or ""
    return TraceRecord(
        app, tid, _time(time, tid), _input(value, tid), _output(output, tid), _text(span_id, "span_id") or "",
        version, _tools(tool_calls, tid), _number(latency_ms, "latency_ms", tid),
        _count(input_tokens, "input_tokens", tid), _count(output_tokens, "output_tokens", tid),
        _number(cost, "cost", tid), _text(model, "model"), _text(finish_reason, "finish_reason"),
        _text(error, "error"), _attributes(attributes, tid), source)


_INPUTS = frozenset({dict, str})


def _plain(*values: Any) -> bool:
    """Each value missing, or a finite float >= 0."""
    return all(v is None or (type(v) is float and 0.0 <= v < math.inf) for v in values)


def _whole(*values: Any) -> bool:
    return all(v is None or (type(v) is int and v >= 0) for v in values)


def _texts(*values: Any) -> bool:
    return all(v is None or (type(v) is str and v != "") for v in values)


def _refuse(field: str, message: str) -> RowRefused:
    return RowRefused(Issue("bad_trace", field, message))


def _text(value: Any, field: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise _refuse(field, f"a trace without a {field}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _refuse(field, f"{field} {value!r:.60} is not text")
    return str(value)


def _time(value: Any, tid: str) -> str:
    try:
        return to_time(value)
    except (ValueError, OverflowError, OSError):
        raise _refuse("time", f"trace {tid!r}: time {value!r:.60} is not an ISO 8601 time, a datetime or a Unix "
                              "timestamp") from None


def _input(value: Any, tid: str) -> dict[str, Any] | list[dict[str, Any]] | str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return dict(value)
    if isinstance(value, Sequence) and all(isinstance(m, Mapping) for m in value):
        return [dict(m) for m in value]
    raise _refuse("input", f"trace {tid!r}: input is {type(value).__name__}, not the input variables (a mapping), "
                           "chat messages (a list of mappings) or text")


def _output(value: Any, tid: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _refuse("output", f"trace {tid!r}: output is {type(value).__name__}, not text (or None)")


def _tools(value: Any, tid: str) -> tuple[dict[str, Any], ...]:
    if not value:
        return ()
    if isinstance(value, Sequence) and all(isinstance(c, Mapping) and c.get("name") for c in value):
        return tuple(dict(c) for c in value)
    raise _refuse("tool_calls", f"trace {tid!r}: tool_calls must be a list of mappings with a name")


def _number(value: Any, field: str, tid: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise _refuse(field, f"trace {tid!r}: {field} {value!r:.60} is not a finite number >= 0")
    return float(value)


def _count(value: Any, field: str, tid: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _refuse(field, f"trace {tid!r}: {field} {value!r:.60} is not a whole number >= 0")
    return value


def _attributes(value: Any, tid: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return dict(value)
    raise _refuse("attributes", f"trace {tid!r}: attributes must be a mapping of names to values")


# -- feedback ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackResult:
    written: int
    already: int  # feedback with a key already stored (a file ingested again)


def feedback_rows(app: str, trace_id: str, *, thumbs: str | None = None, comment: str | None = None,
                  correction: str | None = None, label: str | None = None, by: str | None = None,
                  time: str, key: str | None = None) -> list[traces.Feedback]:
    """The feedback rows for one trace: one per kind given; ConfigError on a bad thumbs value."""
    rows = []
    if thumbs is not None:
        score = {"up": 1, "down": -1, "+1": 1, "-1": -1, "1": 1, "positive": 1, "negative": -1}.get(str(thumbs))
        if score is None:
            raise ConfigError(f"thumbs {thumbs!r}", where=f"feedback on trace {trace_id!r}",
                              expected="up or down (also +1/-1, positive/negative)")
        rows.append(traces.Feedback(app, trace_id, "thumbs", "up" if score > 0 else "down", score, by, time,
                                    _key(key, "thumbs")))
    for kind, value in (("comment", comment), ("correction", correction), ("label", label)):
        if value is not None:
            rows.append(traces.Feedback(app, trace_id, kind, str(value), None, by, time, _key(key, kind)))
    if not rows:
        raise ConfigError("no feedback given", where=f"feedback on trace {trace_id!r}",
                          expected="at least one of thumbs, comment, correction, label")
    return rows


def _key(key: str | None, kind: str) -> str | None:
    return None if key is None else f"{key}#{kind}"


def record_feedback(store: str | Path, app: str, trace_id: str, *, thumbs: str | None = None,
                    comment: str | None = None, correction: str | None = None, label: str | None = None,
                    by: str | None = None, time: Any = None, clock: Clock | None = None) -> FeedbackResult:
    """Store feedback on a logged trace now; MonitorError when ``app`` has no trace ``trace_id``."""
    now = iso((clock or SystemClock()).now())
    rows = feedback_rows(app, str(trace_id), thumbs=thumbs, comment=comment, correction=correction, label=label,
                         by=by, time=now if time is None else to_time(time))
    opened = open_store(store)
    try:
        with opened.transaction() as conn:
            if not traces.known_traces(conn, app, [str(trace_id)]):
                raise MonitorError(f"no trace {trace_id!r} of app {app!r} in the store", where=str(store),
                                   expected="the trace id TraceLogger.log returned (or a traces file had)",
                                   fix="check the app name and the id; a trace logged moments ago is stored at "
                                       "the logger's next flush")
            written, already = traces.insert_feedback(conn, rows, stamp=now)
    finally:
        opened.close()
    return FeedbackResult(written, already)


def with_version(record: TraceRecord, version: str) -> TraceRecord:
    """The record with ``version`` when it has none."""
    return record if record.version else replace(record, version=version)
