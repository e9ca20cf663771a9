"""FakeOpenAI driven by the real openai SDK and real litellm, over loopback HTTP.

What the clients do with each fault (openai 3.57, litellm 1.110; other code relies on it):

=============  ===================================  ========================================
fault          openai.AsyncOpenAI                   litellm.acompletion
=============  ===================================  ========================================
429            openai.RateLimitError;               litellm.RateLimitError (subclass of the
               ``exc.response.headers               openai one); ``exc.response.headers`` and
               ["retry-after"]``                    ``exc.litellm_response_headers``
500            openai.InternalServerError           litellm.InternalServerError
hang           openai.APITimeoutError (a            litellm.Timeout (status_code 408; also an
               subclass of APIConnectionError)      openai.APITimeoutError)
malformed      bare json.JSONDecodeError -- NOT an  litellm.InternalServerError, status 500,
               openai.APIError; catch ValueError    message holds the JSONDecodeError text
empty choices  no error: ``choices == []``          no error: ``choices == []``
disconnect     openai.APIConnectionError            litellm.InternalServerError ("Connection
                                                    error."), not APIConnectionError
=============  ===================================  ========================================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import openai
import pytest

from goldband.testing import FakeOpenAI, Reply

T = TypeVar("T")
USER = [{"role": "user", "content": "hello there world"}]
SRC = str(Path(__file__).resolve().parents[2] / "src")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def chat(server: FakeOpenAI, timeout: float = 5.0, **kwargs: Any) -> Any:
    """One call through the real SDK; the client is closed before returning."""
    kwargs.setdefault("messages", USER)
    async with openai.AsyncOpenAI(
        base_url=server.url, api_key="test", max_retries=0, timeout=timeout
    ) as client:
        return await client.chat.completions.create(model="gpt-fake", **kwargs)


def chat_error(server: FakeOpenAI, **kwargs: Any) -> BaseException:
    with pytest.raises(Exception) as info:
        run(chat(server, **kwargs))
    return info.value


GUARD_S = 30.0
"""Far longer than any client timeout here: a call that outlives it ends in the guard's own TimeoutError."""


def guarded_error(coro: Coroutine[Any, Any, Any]) -> BaseException:
    """The error a call ends with; a hang that the client does not cut ends as the guard's TimeoutError."""
    with pytest.raises(Exception) as info:
        run(asyncio.wait_for(coro, GUARD_S))
    return info.value


# -- normal replies -------------------------------------------------------------


def test_default_reply_is_a_well_formed_completion(openai_server: FakeOpenAI) -> None:
    reply = run(chat(openai_server))
    assert reply.object == "chat.completion"
    assert reply.id.startswith("chatcmpl-")
    assert reply.model == "gpt-fake"
    assert reply.system_fingerprint == "fp_fake"
    assert reply.choices[0].message.content == "echo: hello there world"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].finish_reason == "stop"


def test_n_choices_cycle_through_a_rule(openai_server: FakeOpenAI) -> None:
    openai_server.add_rule(contains="refund", replies=["A", "B", "C"])
    messages = [{"role": "user", "content": "I want a refund"}]
    reply = run(chat(openai_server, messages=messages, n=3))
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert [c.message.content for c in reply.choices] == ["A", "B", "C"]
    later = run(chat(openai_server, messages=messages))
    assert later.choices[0].message.content == "A"  # cycling continues across requests
    assert run(chat(openai_server)).choices[0].message.content.startswith("echo:")


def test_n_cap_simulates_a_provider_that_ignores_n() -> None:
    with FakeOpenAI(n_cap=1) as server:
        assert len(run(chat(server, n=3)).choices) == 1
        server.n_cap = None
        assert len(run(chat(server, n=3)).choices) == 3


def test_usage_counts_words_and_sums_over_choices(openai_server: FakeOpenAI) -> None:
    openai_server.add_rule(replies=["one two", "three"])
    usage = run(chat(openai_server, n=2)).usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 3, 6)


def test_tool_calls(openai_server: FakeOpenAI) -> None:
    call = {"name": "lookup_order", "arguments": {"order_id": 42}}
    openai_server.add_rule(replies=[Reply(None, tool_calls=[call])])
    message = run(chat(openai_server)).choices[0]
    assert message.finish_reason == "tool_calls"
    (tool_call,) = message.message.tool_calls
    assert tool_call.type == "function"
    assert tool_call.function.name == "lookup_order"
    assert json.loads(tool_call.function.arguments) == {"order_id": 42}


def test_script_gets_request_choice_index_and_request_number() -> None:
    def script(request: dict[str, Any], choice: int, number: int) -> str:
        return f"{request['model']} {choice} {number}"

    with FakeOpenAI(script=script) as server:
        run(chat(server))
        reply = run(chat(server, n=2))
    assert [c.message.content for c in reply.choices] == ["gpt-fake 0 1", "gpt-fake 1 1"]


def test_models_and_the_path_without_v1(openai_server: FakeOpenAI) -> None:
    async def go() -> tuple[list[str], str | None]:
        base = openai_server.url.removesuffix("/v1")
        async with openai.AsyncOpenAI(base_url=base, api_key="t", max_retries=0) as client:
            reply = await client.chat.completions.create(model="m", messages=USER)
        async with openai.AsyncOpenAI(base_url=openai_server.url, api_key="t") as client:
            models = [m.id async for m in client.models.list()]
        return models, reply.choices[0].message.content

    assert run(go()) == (["fake-model"], "echo: hello there world")
    assert openai_server.requests[0].path == "/chat/completions"


def test_latency_global_runtime_and_per_rule() -> None:
    with FakeOpenAI(latency_s=0.2) as server:
        start = time.perf_counter()
        run(chat(server))
        assert time.perf_counter() - start >= 0.2
        assert run(overtakes(server)), "a request sent after latency_s = 0 waited behind one sent before it"
        server.add_rule(contains="slow", replies=["zzz"], latency_s=0.3)
        start = time.perf_counter()
        run(chat(server, messages=[{"role": "user", "content": "be slow"}]))
        assert time.perf_counter() - start >= 0.3


async def overtakes(server: FakeOpenAI) -> bool:
    """Whether a request sent after ``latency_s`` drops to 0 is answered while one that arrived before still waits.

    The first is held for ``GUARD_S``; without the change at run time both would wait the same latency, and
    the one that arrived first would be answered first.
    """
    server.latency_s = GUARD_S
    arrived = server.count
    held = asyncio.create_task(chat(server, timeout=GUARD_S * 2))
    while server.count == arrived:
        await asyncio.sleep(0.01)
    server.latency_s = 0.0
    await asyncio.wait_for(chat(server), GUARD_S)
    overtaken = not held.done()
    held.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await held
    return overtaken


# -- faults ---------------------------------------------------------------------


def test_429_carries_retry_after(openai_server: FakeOpenAI) -> None:
    openai_server.fail_next(status=429, retry_after=2.5)
    error = chat_error(openai_server)
    assert isinstance(error, openai.RateLimitError)
    assert error.response.headers["retry-after"] == "2.5"
    assert error.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
    assert run(chat(openai_server)).choices  # the fault was consumed


def test_500(openai_server: FakeOpenAI) -> None:
    openai_server.fail_next(2, status=500)
    for _ in range(2):
        error = chat_error(openai_server)
        assert isinstance(error, openai.InternalServerError)
        assert "retry-after" not in error.response.headers
    assert run(chat(openai_server)).choices


def test_faults_can_target_a_message(openai_server: FakeOpenAI) -> None:
    openai_server.fail_next(status=500, contains="boom")
    assert run(chat(openai_server)).choices  # does not match: untouched
    error = chat_error(openai_server, messages=[{"role": "user", "content": "boom"}])
    assert isinstance(error, openai.InternalServerError)


def test_hang_is_cut_by_the_client_timeout(openai_server: FakeOpenAI) -> None:
    openai_server.hang_next()
    error = guarded_error(chat(openai_server, timeout=0.3))
    assert isinstance(error, openai.APITimeoutError)  # the client's own timeout, not the guard's TimeoutError
    assert run(chat(openai_server)).choices


def test_malformed_body(openai_server: FakeOpenAI) -> None:
    openai_server.malformed_next()
    error = chat_error(openai_server)
    assert isinstance(error, json.JSONDecodeError)  # not an openai.APIError
    openai_server.malformed_next(empty_choices=True)
    assert run(chat(openai_server)).choices == []


def test_disconnect(openai_server: FakeOpenAI) -> None:
    openai_server.disconnect_next()
    assert isinstance(chat_error(openai_server), openai.APIConnectionError)


# -- log and lifecycle ------------------------------------------------------------


def test_log_redacts_authorization(openai_server: FakeOpenAI) -> None:
    run(chat(openai_server, n=2))
    (request,) = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["n"] == 2
    assert request.has_auth
    auth = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
    assert list(auth.values()) == ["<redacted>"]
    assert "test" not in json.dumps(request.headers)
    assert openai_server.count == 1


def test_reset_clears_log_rules_and_faults(openai_server: FakeOpenAI) -> None:
    openai_server.add_rule(replies=["ruled"])
    openai_server.fail_next(2)
    assert isinstance(chat_error(openai_server), openai.RateLimitError)
    assert openai_server.count == 1
    openai_server.reset()
    assert openai_server.count == 0
    assert openai_server.requests == []
    assert run(chat(openai_server)).choices[0].message.content.startswith("echo:")


def test_stop_is_prompt_with_a_hanging_request() -> None:
    server = FakeOpenAI().start()
    server.hang_next()

    async def go() -> BaseException | None:
        task = asyncio.create_task(chat(server, timeout=GUARD_S))
        while server.count == 0:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(server.stop)  # raises TimeoutError if shutting down waits for the hang (5 s)
        try:
            await task
        except openai.APIConnectionError as error:
            return error
        return None

    error = run(go())
    # The server dropped the hanging request: the client saw the connection close, long before its own timeout.
    assert isinstance(error, openai.APIConnectionError) and not isinstance(error, openai.APITimeoutError)
    assert not any(t.name == "fake-openai" for t in threading.enumerate())


def test_restart_keeps_the_port_and_usage_errors_are_clear() -> None:
    server = FakeOpenAI()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    with server:
        url = server.url
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
        with pytest.raises(ValueError, match="replies is empty"):
            server.add_rule(replies=[])
    server.stop()  # idempotent
    with server:
        assert server.url == url
        assert run(chat(server)).choices


def test_import_stays_light() -> None:
    code = (
        "import sys, goldband.testing.fake_openai;"
        "heavy = {'numpy', 'scipy', 'litellm', 'openai'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_env())  # a fresh interpreter


def test_command_line_serves_until_terminated() -> None:
    # The command line as users start it: a process of its own, stopped by a signal.
    cmd = [sys.executable, "-W", "error", "-m", "goldband.testing.fake_openai"]
    with subprocess.Popen(
        [*cmd, "--port", "0", "--latency", "0", "--n-cap", "1"],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    ) as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")

        async def go() -> int:
            async with openai.AsyncOpenAI(base_url=url, api_key="t", max_retries=0) as client:
                reply = await client.chat.completions.create(model="m", messages=USER, n=2)
            return len(reply.choices)

        assert run(go()) == 1
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


# -- litellm ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def litellm() -> Any:
    os.environ["LITELLM_OFFLINE_MODE"] = "true"
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "true"
    import litellm

    litellm.suppress_debug_info = True
    return litellm


async def lite(litellm: Any, server: FakeOpenAI, **kwargs: Any) -> Any:
    """One litellm call; its cached clients are closed before the loop ends."""
    kwargs.setdefault("messages", USER)
    try:
        return await litellm.acompletion(
            model="openai/fake-model", api_base=server.url, api_key="test", num_retries=0, **kwargs
        )
    finally:
        await litellm.close_litellm_async_clients()


def lite_error(litellm: Any, server: FakeOpenAI, **kwargs: Any) -> BaseException:
    with pytest.raises(Exception) as info:
        run(lite(litellm, server, **kwargs))
    return info.value


def test_litellm_reply_n_and_usage(litellm: Any, openai_server: FakeOpenAI) -> None:
    reply = run(lite(litellm, openai_server, n=3))
    assert [c.message.content for c in reply.choices] == ["echo: hello there world"] * 3
    assert reply.system_fingerprint == "fp_fake"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (3, 12)
    assert openai_server.requests[0].has_auth


def test_litellm_tool_calls(litellm: Any, openai_server: FakeOpenAI) -> None:
    openai_server.add_rule(replies=[Reply(None, tool_calls=[{"name": "f", "arguments": {"x": 1}}])])
    choice = run(lite(litellm, openai_server)).choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls[0].function.name == "f"
    assert json.loads(choice.message.tool_calls[0].function.arguments) == {"x": 1}


def test_litellm_429_and_500(litellm: Any, openai_server: FakeOpenAI) -> None:
    openai_server.fail_next(status=429, retry_after=3)
    error = lite_error(litellm, openai_server)
    assert isinstance(error, litellm.RateLimitError)
    assert error.response.headers["retry-after"] == "3"
    assert error.litellm_response_headers["retry-after"] == "3"
    openai_server.fail_next(status=500)
    assert isinstance(lite_error(litellm, openai_server), litellm.InternalServerError)


def test_litellm_hang_times_out(litellm: Any, openai_server: FakeOpenAI) -> None:
    openai_server.hang_next()
    error = guarded_error(lite(litellm, openai_server, timeout=0.3))
    assert isinstance(error, litellm.Timeout)  # litellm's own timeout, not the guard's TimeoutError


def test_litellm_malformed_and_empty_choices(litellm: Any, openai_server: FakeOpenAI) -> None:
    openai_server.malformed_next()
    error = lite_error(litellm, openai_server)
    assert isinstance(error, litellm.InternalServerError)
    assert "Expecting" in str(error)  # the JSONDecodeError text
    openai_server.malformed_next(empty_choices=True)
    assert run(lite(litellm, openai_server)).choices == []
