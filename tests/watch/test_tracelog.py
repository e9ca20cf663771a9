"""``TraceLogger`` and feedback: real store files, a real second process, the redaction hook."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from goldband.errors import ConfigError, MonitorError
from goldband.store import open_store
from goldband.watch import traces
from goldband.watch.scope import Scope
from goldband.watch.tracelog import TraceLogger, record_feedback
from goldband.watch.tracerecords import TraceRecord


def rows(store: str, sql: str) -> list[tuple[object, ...]]:
    with open_store(store) as opened:
        return [tuple(row) for row in opened.conn.execute(sql).fetchall()]


def test_logged_traces_are_stored_with_every_field(store_at: str) -> None:
    store = store_at
    with TraceLogger("support", store=store, version="4") as log:
        tid = log.log([{"role": "user", "content": "Do I pay for shipping?"}], "Free over $50.",
                      tool_calls=[{"id": "c1", "name": "policy", "arguments": {"topic": "shipping"}}],
                      latency_ms=420.5, input_tokens=12, output_tokens=5, cost=0.0004, model="gpt-x",
                      finish_reason="stop", attributes={"user": "u1"}, time="2026-05-01T10:00:00Z")
    assert tid is not None and log.stats().written == 1
    with open_store(store) as opened:
        (found,) = list(traces.traces_after(opened.conn, Scope("support", "4"), ("", 0)))
    record = found.record
    assert (record.trace_id, record.version, record.time) == (tid, "4", "2026-05-01T10:00:00.000+00:00")
    assert record.input == [{"role": "user", "content": "Do I pay for shipping?"}]
    assert record.tool_calls == ({"id": "c1", "name": "policy", "arguments": {"topic": "shipping"}},)
    assert (record.latency_ms, record.input_tokens, record.output_tokens, record.cost) == (420.5, 12, 5, 0.0004)
    assert (record.model, record.finish_reason, record.attributes) == ("gpt-x", "stop", {"user": "u1"})


def test_a_bad_trace_is_refused_and_counted_and_never_raises(store_at: str) -> None:
    with TraceLogger("support", store=store_at) as log:
        assert log.log({"q": "a"}, "fine") is not None
        assert log.log({"q": "b"}, 42) is not None  # type: ignore[arg-type]  # an output that is not text
        assert log.log({"q": "c"}, "x", latency_ms=-1) is not None
    stats = log.stats()
    assert (stats.written, stats.refused, stats.issues) == (1, 2, {"bad_trace": 2})
    issues = rows(store_at, "SELECT kind, field, count FROM monitor_issues WHERE model = 'support'")
    assert sorted(issues) == [("bad_trace", "latency_ms", 1), ("bad_trace", "output", 1)]


def test_the_same_trace_id_twice_is_stored_once(store_at: str) -> None:
    with TraceLogger("support", store=store_at) as log:
        log.log("q", "a", trace_id="t-1")
        log.log("q", "b", trace_id="t-1")
    assert (log.stats().written, log.stats().issues) == (1, {"duplicate_trace": 1})


def test_the_redaction_hook_runs_before_anything_is_stored(tmp_path: Path, store_at: str) -> None:
    def redact(record: TraceRecord) -> TraceRecord:
        if "boom" in str(record.input):
            raise ValueError("cannot parse")
        return replace(record, input=str(record.input).replace("ana@example.com", "[email]"),
                       output=(record.output or "").replace("ana@example.com", "[email]"))

    store = store_at
    with TraceLogger("support", store=store, redact=redact) as log:
        log.log("I am ana@example.com", "Hello ana@example.com", trace_id="kept")
        log.log("boom ana@example.com", "secret", trace_id="refused")
    assert (log.stats().written, log.stats().issues) == (1, {"redaction_failed": 1})
    if not store.startswith("postgresql:"):  # every byte of the file and its journal, not only the rows
        raw = Path(store).read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("store.db-*"))
        assert b"ana@example.com" not in raw and b"secret" not in raw
    stored = str(rows(store, "SELECT * FROM llm_traces") + rows(store, "SELECT * FROM monitor_issues"))
    assert "ana@example.com" not in stored and "secret" not in stored
    (example,) = rows(store, "SELECT example FROM monitor_issues WHERE kind = 'redaction_failed'")
    assert example[0] == "trace 'refused': the redaction hook raised ValueError: cannot parse; not stored"


def test_a_hook_named_by_path_is_imported_and_a_bad_path_fails_at_start(tmp_path: Path, store_at: str) -> None:
    (tmp_path / "privacy.py").write_text("def redact(r):\n    return r\n")
    TraceLogger("support", store=store_at, redact="privacy:redact", root=tmp_path).close()
    with pytest.raises(ConfigError, match="redact"):
        TraceLogger("support", store=store_at, redact="privacy:nothing", root=tmp_path)


def test_a_registry_alias_is_resolved_to_the_version_it_names(tmp_path: Path, store_at: str) -> None:
    from goldband.registry.registry import Registry

    store = store_at
    with open_store(store) as opened:
        registry = Registry(opened, root=tmp_path)
        for _ in range(2):
            registry.register("support", kind="llm", target={"model": "openai/gpt-x"})
        registry.promote("support", "2", reason="test", force=True)
    with TraceLogger("support", store=store, version="support@production") as log:
        log.log("q", "a", trace_id="t")
    assert log.version == "2"
    with pytest.raises(ConfigError, match="no version for 'support@staging'"):
        TraceLogger("support", store=store, version="support@staging")


def test_traces_logged_by_another_process_get_feedback_from_this_one(store_at: str) -> None:
    store = store_at
    script = textwrap.dedent(f"""
        from goldband.watch.tracelog import TraceLogger
        with TraceLogger("support", store={str(store)!r}, version="7") as log:
            for i in range(50):
                log.log({{"question": f"q{{i}}"}}, f"answer {{i}}", trace_id=f"t{{i}}")
        print(log.stats().written)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "50"
    assert record_feedback(store, "support", "t3", thumbs="down", correction="It is 30 days.").written == 2
    assert record_feedback(store, "support", "t4", thumbs="up", by="ana").written == 1
    with open_store(store) as opened:
        given = traces.feedback_of(opened.conn, "support", ["t3", "t4", "t5"])
    assert {t: [(f.kind, f.value, f.score) for f in rows] for t, rows in given.items()} == {
        "t3": [("thumbs", "down", -1), ("correction", "It is 30 days.", None)], "t4": [("thumbs", "up", 1)]}


def test_feedback_on_an_unknown_trace_is_a_clear_error_and_stores_nothing(store_at: str) -> None:
    store = store_at
    with TraceLogger("support", store=store) as log:
        log.log("q", "a", trace_id="t1")
    with pytest.raises(MonitorError, match="no trace 't2' of app 'support'"):
        record_feedback(store, "support", "t2", thumbs="down")
    with pytest.raises(ConfigError, match="thumbs 'sideways'"):
        record_feedback(store, "support", "t1", thumbs="sideways")
    assert rows(store, "SELECT COUNT(*) FROM llm_feedback") == [(0,)]
