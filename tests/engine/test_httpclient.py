"""The lean client against a real loopback server: what it sends, what it reads, how it fails.

Every reply and fault comes from ``FakeOpenAI`` over real HTTP; the parity tests run
the openai SDK path (``OpenAIClient``) on the very same replies and demand the same
``Completion`` objects and the same failure kinds.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import BaseModel

from goldband.config.project import Endpoint, load_config
from goldband.engine.httpclient import HttpClient, _sdk_tls, chat_url, request_body
from goldband.engine.providers import Call, Client, OpenAIClient, classify_status, client_kind, speaks_openai
from goldband.engine.scheduler import Engine, Sample
from goldband.errors import CallFailed, GoldbandError
from goldband.results import Completion, ToolCall
from goldband.testing import FakeOpenAI, Reply

KEY = "sk-test-SECRET-0123456789"
ENV = "GB_HTTP_TEST_KEY"
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
              "NO_PROXY")


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)
    for name in ("OPENAI_CUSTOM_HEADERS", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_BASE_URL", *PROXY_VARS):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as s:
        yield s


def endpoint(url: str, **extra: Any) -> Endpoint:
    fields: dict[str, Any] = {"model": "openai/fake-model", "api_base": url, "api_key_env": ENV, "timeout_s": 2,
                              "max_retries": 0, "backoff_s": 0.01, **extra}
    return Endpoint(**fields)


def call(point: Endpoint, text: str = "hello", **params: Any) -> Call:
    return Call(model=point.model or "", messages=[{"role": "user", "content": text}], params=params, endpoint=point)


def complete(client: Client, request: Call, n: int = 1) -> list[Completion]:
    """One call on a fresh loop, client closed after: how the engine uses a client, minus the engine."""
    async def go() -> list[Completion]:
        try:
            return await client.complete(request, n)
        finally:
            await client.close()
    return asyncio.run(go())


def failure(client: Client, request: Call) -> CallFailed:
    with pytest.raises(CallFailed) as info:
        complete(client, request)
    return info.value


def generate(request: Call, indices: list[int], concurrency: int = 4) -> list[Sample]:
    engine = Engine(concurrency=concurrency, seed=1)
    try:
        return engine.submit(engine.generate(request, indices)).result(timeout=10)
    finally:
        engine.close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def headers(server: FakeOpenAI, index: int = -1) -> dict[str, str]:
    """A received request's headers, by lower-case name (httpx sends them lower-cased, aiohttp as given)."""
    return {k.lower(): v for k, v in server.requests[index].headers.items()}


def lean_served(server: FakeOpenAI) -> bool:
    """Which path sent the last request: the lean path sends aiohttp's User-Agent, the SDK its own."""
    agent = headers(server)["user-agent"]
    assert ("aiohttp" in agent) != ("OpenAI" in agent), agent
    return "aiohttp" in agent


# -- success ---------------------------------------------------------------------------------------------


def test_one_sample_and_what_the_server_received(server: FakeOpenAI) -> None:
    server.add_rule(replies=["ok"])
    request = call(endpoint(server.url), temperature=0.2, seed=7, max_tokens=30)
    [completion] = complete(HttpClient(), request)
    assert completion.output == "ok" and completion.finish_reason == "stop"
    sent = server.requests[0]
    assert sent.path == "/v1/chat/completions" and lean_served(server)
    assert sent.body == {"model": "fake-model", "messages": [{"role": "user", "content": "hello"}],
                         "temperature": 0.2, "seed": 7, "max_tokens": 30}
    assert sent.has_auth and headers(server)["authorization"] == "<redacted>"


def test_n_samples_from_one_request_with_usage_fingerprint_and_cost(server: FakeOpenAI) -> None:
    server.add_rule(replies=["one two", "three", "four five six"])
    point = endpoint(server.url, price={"input_per_mtok": 1.0, "output_per_mtok": 2.0})
    completions = complete(HttpClient(), call(point, "a b c"), n=3)
    assert [c.output for c in completions] == ["one two", "three", "four five six"]
    assert server.count == 1 and server.requests[0].body["n"] == 3
    assert {c.prompt_tokens for c in completions} == {3}
    assert {c.completion_tokens for c in completions} == {6 // 3}  # the reply's total, shared per choice
    assert [c.cost_usd for c in completions] == pytest.approx([(3 * 1.0 + 6 * 2.0) / 1e6 / 3] * 3)
    assert {c.system_fingerprint for c in completions} == {"fp_fake"}


def test_tool_calls_are_read_with_parsed_arguments(server: FakeOpenAI) -> None:
    calls = [{"name": "refund", "arguments": {"order": 42}}, {"name": "note", "arguments": "not json"}]
    server.add_rule(replies=[Reply(tool_calls=calls)])
    [completion] = complete(HttpClient(), call(endpoint(server.url)))
    assert completion.output is None and completion.finish_reason == "tool_calls"
    assert completion.tool_calls == (ToolCall("refund", {"order": 42}), ToolCall("note", "not json"))


def test_a_keyless_local_server_gets_no_authorization(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_ORG_ID", "org-1")
    complete(HttpClient(), call(endpoint(server.url, api_key_env=None)))
    sent = server.requests[0]
    assert not sent.has_auth and headers(server)["openai-organization"] == "org-1"


# -- failures, through the engine where retries matter ----------------------------------------------------


def test_429_with_retry_after_is_honoured_by_the_engine(server: FakeOpenAI) -> None:
    server.fail_next(status=429, retry_after=0.2)
    [sample] = generate(call(endpoint(server.url, max_retries=2)), [0])
    assert sample.completion is not None and sample.attempts == 2
    first, second = server.requests
    assert second.received_at - first.received_at >= 0.2


def test_429_keeps_the_servers_message_and_retry_after(server: FakeOpenAI) -> None:
    server.fail_next(status=429, retry_after=3)
    failed = failure(HttpClient(), call(endpoint(server.url)))
    assert failed.kind == "rate_limit" and failed.retry_after == 3.0
    assert failed.message == "Rate limit reached (FakeOpenAI)."


def test_retry_after_in_milliseconds_or_as_an_http_date_as_aiohttp_hands_them_over() -> None:
    point = endpoint("http://127.0.0.1:1/v1")
    in_ms = classify_status(429, "slow down", CIMultiDictProxy(CIMultiDict({"Retry-After-Ms": "1500"})), point)
    assert in_ms.retry_after == 1.5
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    as_date = classify_status(429, "slow down", CIMultiDictProxy(CIMultiDict({"Retry-After": later})), point)
    assert as_date.retry_after is not None and 100 < as_date.retry_after <= 120
    garbled = classify_status(429, "slow down", CIMultiDictProxy(CIMultiDict({"Retry-After": "soon"})), point)
    assert garbled.kind == "rate_limit" and garbled.retry_after is None


def test_persistent_500_is_a_server_error_after_retries(server: FakeOpenAI) -> None:
    server.fail_next(count=5, status=500)
    [sample] = generate(call(endpoint(server.url, max_retries=2)), [0])
    assert server.count == 3 and sample.failure is not None
    assert sample.failure.kind == "server" and sample.failure.message == "HTTP 500: Injected HTTP 500 (FakeOpenAI)."


def test_401_names_the_key_variable_and_never_shows_the_key(server: FakeOpenAI) -> None:
    server.fail_next(status=401)
    failed = failure(HttpClient(), call(endpoint(server.url)))
    assert failed.kind == "auth" and not failed.retryable
    assert ENV in failed.message and KEY not in str(failed)


def test_a_key_echoed_by_the_server_is_redacted() -> None:
    failed = classify_status(400, f"invalid key {KEY}", {}, endpoint("http://127.0.0.1:1/v1"))
    assert failed.kind == "http" and KEY not in failed.message and "<redacted>" in failed.message


def test_a_hang_is_a_timeout(server: FakeOpenAI) -> None:
    server.hang_next()
    failed = failure(HttpClient(), call(endpoint(server.url, timeout_s=0.3)))
    assert failed.kind == "timeout" and failed.message == "no reply within 0.3 s"


def test_a_hang_under_the_engine_is_a_timeout_too(server: FakeOpenAI) -> None:
    server.hang_next()
    [sample] = generate(call(endpoint(server.url, timeout_s=0.3)), [0])
    assert sample.failure is not None and sample.failure.kind == "timeout"


def test_a_dropped_connection_is_a_connection_error(server: FakeOpenAI) -> None:
    server.disconnect_next()
    failed = failure(HttpClient(), call(endpoint(server.url)))
    assert failed.kind == "connection" and failed.retryable
    assert failed.message.startswith(f"cannot reach {server.url}: ")


@pytest.mark.parametrize("empty", [False, True])
def test_a_malformed_body_is_malformed(server: FakeOpenAI, empty: bool) -> None:
    server.malformed_next(empty_choices=empty)
    failed = failure(HttpClient(), call(endpoint(server.url)))
    assert failed.kind == "malformed"
    assert ("no choices" in failed.message) if empty else ("unreadable reply: JSONDecodeError" in failed.message)


def test_a_closed_port_is_a_connection_error_not_a_timeout() -> None:
    url = closed_port_url()
    failed = failure(HttpClient(), call(endpoint(url)))
    assert failed.kind == "connection" and failed.message.startswith(f"cannot reach {url}: ")


def test_a_refusal_is_kept_and_not_retried(server: FakeOpenAI) -> None:
    server.add_rule(replies=[Reply(refusal="I can't help with that.")])
    [sample] = generate(call(endpoint(server.url, max_retries=2)), [0])
    assert sample.failure is not None and sample.failure.kind == "refusal"
    assert sample.failure.message == "I can't help with that." and server.count == 1


# -- which path runs ------------------------------------------------------------------------------------


def test_client_kind_sends_openai_models_to_the_lean_path() -> None:
    assert client_kind(Endpoint(model="openai/gpt-4o-mini")) == "http"
    assert client_kind(Endpoint(model="anthropic/claude-3-5-haiku")) == "litellm"
    assert client_kind(Endpoint(model="openai/gpt-4o-mini", client="openai")) == "openai"
    assert client_kind(Endpoint(model="ollama/llama3", client="http")) == "http"
    assert speaks_openai(Endpoint(model="openai/x")) and speaks_openai(Endpoint(model="openai/x", client="openai"))
    assert not speaks_openai(Endpoint(model="openai/x", client="litellm"))


def test_an_unknown_client_is_refused_naming_the_choices(tmp_path: Path) -> None:
    (tmp_path / "goldband.yaml").write_text("targets:\n  t:\n    model: openai/x\n    prompt: p.j2\n    client: sdk\n")
    with pytest.raises(GoldbandError) as info:
        load_config(tmp_path)
    assert "client" in str(info.value) and "'http'" in str(info.value)


def test_the_engine_runs_auto_openai_models_on_the_lean_path(server: FakeOpenAI) -> None:
    server.add_rule(replies=["a", "b"])
    samples = generate(call(endpoint(server.url)), [0, 1])
    assert [s.completion.output for s in samples if s.completion] == ["a", "b"]
    assert lean_served(server)


def test_explicit_client_openai_keeps_the_sdk(server: FakeOpenAI) -> None:
    server.add_rule(replies=["a"])
    # a long timeout: the engine's clock runs while the loop imports the openai SDK (a second or more under load)
    [sample] = generate(call(endpoint(server.url, client="openai", timeout_s=60)), [0])
    assert sample.completion is not None and sample.completion.output == "a"
    assert not lean_served(server)


def test_sdk_request_options_fall_back_to_the_sdk(server: FakeOpenAI) -> None:
    server.add_rule(replies=["ok"])
    [completion] = complete(HttpClient(), call(endpoint(server.url), extra_body={"top_k": 5}))
    assert completion.output == "ok" and not lean_served(server)
    assert server.requests[0].body["top_k"] == 5 and "extra_body" not in server.requests[0].body


class Meta(BaseModel):
    team: str


def test_params_that_are_not_plain_json_fall_back_to_the_sdk(server: FakeOpenAI) -> None:
    server.add_rule(replies=["ok"])
    request = call(endpoint(server.url), metadata=Meta(team="support"))
    assert request_body(request, 1) is None
    [completion] = complete(HttpClient(), request)
    assert completion.output == "ok" and not lean_served(server)
    assert server.requests[0].body["metadata"] == {"team": "support"}


def test_custom_headers_from_the_environment_fall_back_to_the_sdk(server: FakeOpenAI,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Team: support")
    server.add_rule(replies=["ok"])
    complete(HttpClient(), call(endpoint(server.url)))
    assert not lean_served(server) and headers(server)["x-team"] == "support"


@pytest.mark.parametrize("client", [HttpClient, OpenAIClient])
def test_a_proxy_from_the_environment_is_used_like_the_sdk_does(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch,
                                                                client: type[Client]) -> None:
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{server.port}")
    server.add_rule(replies=["via the proxy"])
    [completion] = complete(client(), call(endpoint("http://llm.example.invalid/v1")))
    assert completion.output == "via the proxy"
    assert headers(server)["host"] == "llm.example.invalid" and server.requests[0].path == "/v1/chat/completions"


def test_request_body_is_one_json_document_with_n_only_above_one() -> None:
    request = call(endpoint("http://127.0.0.1:1/v1"), seed=3)
    assert request_body(request, 1) == b'{"model":"fake-model","messages":[{"role":"user","content":"hello"}],"seed":3}'
    assert (request_body(request, 2) or b"").endswith(b',"n":2}')
    assert request_body(call(endpoint("http://x/v1"), timeout=3), 1) is None


def test_https_verifies_certificates_as_the_sdk_does() -> None:
    context = _sdk_tls()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_chat_url_defaults_like_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    assert chat_url(None) == "https://api.openai.com/v1/chat/completions"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gateway.local/v1")
    assert chat_url(None) == "http://gateway.local/v1/chat/completions"


# -- parity with the SDK path --------------------------------------------------------------------------


PARITY_REPLIES = [
    ["plain text"],
    ["first", "second", "third"],
    [Reply("cut off", finish_reason="length")],
    [Reply(tool_calls=[{"name": "lookup", "arguments": {"id": 1, "tags": ["a"]}}, {"name": "x", "arguments": "{"}])],
    [Reply("text and a tool", tool_calls=[{"name": "t", "arguments": "[1, 2]"}])],
]


@pytest.mark.parametrize("replies", PARITY_REPLIES)
@pytest.mark.parametrize("fingerprint", ["fp_abc", None])
def test_same_completions_as_the_sdk_path(replies: list[Reply | str], fingerprint: str | None) -> None:
    with FakeOpenAI(system_fingerprint=fingerprint) as server:
        point = endpoint(server.url, price={"input_per_mtok": 0.15, "output_per_mtok": 0.6})
        request, n = call(point, "some question"), len(replies)
        server.add_rule(replies=replies)
        sdk = complete(OpenAIClient(), request, n)
        server.reset()
        server.add_rule(replies=replies)
        lean = complete(HttpClient(), request, n)
    assert lean_served(server)
    assert [replace(c, latency_ms=None) for c in lean] == [replace(c, latency_ms=None) for c in sdk]
    assert all(c.latency_ms is not None and c.latency_ms >= 0 for c in lean)


@pytest.mark.parametrize("fault", ["429", "500", "503", "401", "400", "malformed", "empty", "refusal", "disconnect"])
def test_same_failure_kinds_as_the_sdk_path(fault: str) -> None:
    def failed(client: Client) -> CallFailed:
        with FakeOpenAI() as server:
            inject(server, fault)
            return failure(client, call(endpoint(server.url)))
    sdk, lean = failed(OpenAIClient()), failed(HttpClient())
    assert (lean.kind, lean.retry_after) == (sdk.kind, sdk.retry_after)


def inject(server: FakeOpenAI, fault: str) -> None:
    if fault.isdigit():
        server.fail_next(status=int(fault), retry_after=2)
    elif fault in ("malformed", "empty"):
        server.malformed_next(empty_choices=fault == "empty")
    elif fault == "refusal":
        server.add_rule(replies=[Reply(refusal="no")])
    else:
        server.disconnect_next()
