"""Alert sinks: a webhook against a real HTTP server on 127.0.0.1 (ok, 500, 400, hang, refused), JSONL, log."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from goldband.alerts import SINKS, AlertEngine, AlertEvent, AlertsConfig, JsonlSink, LogSink, Observation, WebhookSink
from goldband.alerts.engine import list_alerts
from goldband.clock import ManualClock
from goldband.errors import SinkError
from goldband.store import open_store

EVENT = AlertEvent(7, "concept-drift", "critical", "open", "classic-ml", "churn", "concept_drift",
                   "error rate rose from 0.25 to 0.37 <while features did not move>", "2026-03-12T23:00:00.000+00:00",
                   labels={"version": "1"}, details={"kind": "concept", "before": 0.25})


class Hook(BaseHTTPRequestHandler):
    """/ok answers 200, /fail 500, /bad 400, /hang only once the test releases it; every request is recorded."""

    seen: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    release: ClassVar[threading.Event] = threading.Event()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.path, body))
        if self.path.startswith("/hang"):
            self.release.wait(30)  # a guard: the fixture releases it when the test ends
        code = {"/fail": 500, "/bad": 400}.get(self.path.split("?")[0], 200)
        try:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if code == 200 else b"no thanks")
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout test)
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Hook.seen = []
    Hook.release = threading.Event()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    Hook.release.set()
    httpd.shutdown()
    httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_webhook_posts_slack_compatible_json(server: str) -> None:
    WebhookSink(f"{server}/ok").send(EVENT)
    ((path, body),) = Hook.seen
    assert path == "/ok" and body["text"].startswith("goldband CRITICAL alert #7 [concept-drift] churn")
    assert body["alert"]["details"] == {"kind": "concept", "before": 0.25} and body["alert"]["id"] == 7


def test_a_500_is_retried_then_reported(server: str) -> None:
    sink = WebhookSink(f"{server}/fail?token=SECRET", retries=2, backoff_s=0.01)
    with pytest.raises(SinkError) as info:
        sink.send(EVENT)
    assert len(Hook.seen) == 3  # the first try and two retries
    assert "HTTP 500 from http://127.0.0.1:" in str(info.value) and "no thanks" in str(info.value)
    assert "SECRET" not in str(info.value) and "(after 3 attempts)" in str(info.value)  # the URL's secret stays out


def test_a_400_is_not_retried(server: str) -> None:
    with pytest.raises(SinkError, match="HTTP 400"):
        WebhookSink(f"{server}/bad", retries=3, backoff_s=0.01).send(EVENT)
    assert len(Hook.seen) == 1


def test_a_hanging_hook_times_out(server: str) -> None:
    # The hook answers only after send() has returned (the fixture releases it), so send() can only have been
    # cut short by its own timeout; a sink that ignored it would wait for the 200 and raise nothing.
    with pytest.raises(SinkError, match=r"no reply from http://127.0.0.1:\d+/… within 0.2 s"):
        WebhookSink(f"{server}/hang", timeout_s=0.2, retries=0).send(EVENT)


def test_an_unreachable_hook_and_a_missing_variable_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SinkError, match=r"cannot reach http://127\.0\.0\.1"):
        WebhookSink(f"http://127.0.0.1:{free_port()}", retries=0).send(EVENT)
    monkeypatch.delenv("GOLDBAND_TEST_HOOK", raising=False)
    with pytest.raises(SinkError, match="the environment variable GOLDBAND_TEST_HOOK is not set"):
        WebhookSink(url_env="GOLDBAND_TEST_HOOK").send(EVENT)


def test_jsonl_and_log_sinks(tmp_path: Path) -> None:
    JsonlSink(tmp_path / "deep" / "alerts.jsonl").send(EVENT)
    JsonlSink(tmp_path / "deep" / "alerts.jsonl").send(EVENT)
    lines = (tmp_path / "deep" / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["rule"] == "concept-drift"
    stream = io.StringIO()
    LogSink(stream=stream).send(EVENT)
    assert stream.getvalue().startswith("ALERT goldband CRITICAL alert #7")
    with pytest.raises(SinkError, match="cannot append"):
        JsonlSink(tmp_path / "deep" / "alerts.jsonl" / "x").send(EVENT)


@pytest.mark.parametrize("name", sorted(SINKS))
def test_every_sink_follows_the_protocol(name: str, server: str, tmp_path: Path) -> None:
    args = {"log": {"stream": io.StringIO()}, "jsonl": {"path": tmp_path / "a.jsonl"}, "webhook": {"url": server}}
    sink = SINKS[name](**args[name])  # type: ignore[arg-type]
    assert sink.name == name and sink.min_severity == "info" and sink.type == name
    assert sink.send(EVENT) is None


def test_a_failing_webhook_never_breaks_a_check(server: str, tmp_path: Path, store_at: str) -> None:
    """Through the engine with sinks from config: the 500 is recorded, the other sinks still get the alert."""
    config = AlertsConfig.model_validate({"sinks": [
        {"type": "webhook", "url": f"{server}/fail", "retries": 0, "name": "slack"},
        {"type": "jsonl", "path": "alerts.jsonl"}, {"type": "webhook", "url": f"{server}/ok"}]})
    with open_store(store_at) as store:
        engine = AlertEngine(store, config, clock=ManualClock(), root=tmp_path)
        (delivered,) = engine.process([Observation("classic-ml", "churn", "concept_drift", "2026-03-12T00:00:00Z",
                                                   0.37, True, summary="error rose")])
        assert delivered.results["slack"].startswith("HTTP 500") and delivered.results["jsonl"] == "ok"
        assert delivered.results["webhook"] == "ok"
        alert = list_alerts(store.conn)[0]
        assert alert["deliveries"]["slack"]["status"] == "failed" and alert["notify_pending"] == 1
    assert (tmp_path / "alerts.jsonl").read_text().count("\n") == 1
