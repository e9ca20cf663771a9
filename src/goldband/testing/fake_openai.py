"""A real OpenAI-compatible HTTP server on 127.0.0.1, for offline tests and benchmarks.

Tests and benchmarks talk to it with the real ``openai`` SDK and real ``litellm``,
so their HTTP, retry, timeout and parsing code runs unpatched. The server runs
``aiohttp.web`` on its own event loop in a daemon thread; replies are scripted,
and faults (429, 500, hang, malformed body, disconnect) are queued per request.

Reply selection, first that applies:

1. a queued fault matching the request (see ``fail_next`` and friends);
2. the first rule (``add_rule``) whose ``contains`` is in the last user message;
   the rule's k-th choice served overall gets ``replies[k % len(replies)]``;
3. ``script(request_json, choice_index, request_number)`` if one was given;
4. ``"echo: <last user message>"``.

Embeddings (``POST /embeddings``) are deterministic: a hashed bag of the text's
character trigrams (``fake_embedding``), ``dimensions`` wide (default
``EMBEDDING_DIM``), L2-normalised, so similar texts get close vectors and the
same text always the same one. Faults queued with ``contains`` match any of
the request's inputs; an empty input string is refused with HTTP 400, as
OpenAI does.

Latency (``latency_s``, or a rule's own) is applied before every response,
errors included; shutdown cuts it short.

Example (any HTTP client works; tests use the openai SDK and litellm)::

    >>> import json, urllib.request
    >>> with FakeOpenAI() as server:
    ...     _ = server.add_rule(contains="refund", replies=["A", "B"])
    ...     body = {"model": "m", "n": 3, "messages": [{"role": "user", "content": "refund?"}]}
    ...     url = server.url + "/chat/completions"
    ...     with urllib.request.urlopen(url, json.dumps(body).encode()) as response:
    ...         reply = json.load(response)
    >>> [choice["message"]["content"] for choice in reply["choices"]]
    ['A', 'B', 'A']

Run standalone (prints the base URL, serves until interrupted)::

    python -m goldband.testing.fake_openai --port 8000 --latency 0.2 --n-cap 1
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import math
import signal
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

__all__ = ["EMBEDDING_DIM", "FakeOpenAI", "RecordedRequest", "Reply", "Rule", "Script", "fake_embedding"]

HANG_S = 3600.0
"""How long a ``hang`` fault sleeps: far past any client timeout (shutdown wakes it)."""

EMBEDDING_DIM = 64
"""Width of a fake embedding when the request names no ``dimensions``."""

REDACTED = "<redacted>"
_SECRET_HEADERS = frozenset({"authorization", "api-key"})
_MALFORMED_BODY = b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{'


@dataclass(frozen=True)
class Reply:
    """One scripted choice.

    ``tool_calls`` items are ``{"name": str, "arguments": dict | str}``; a string is
    sent verbatim (to test unparseable arguments). ``finish_reason`` defaults to
    ``"tool_calls"`` when there are tool calls, else ``"stop"``. ``refusal`` is sent as
    the message's ``refusal`` field (OpenAI structured outputs), usually with no content.
    """

    content: str | None = None
    tool_calls: Sequence[Mapping[str, Any]] = ()
    finish_reason: str | None = None
    refusal: str | None = None


Script = Callable[[dict[str, Any], int, int], "Reply | str"]
"""``(request_json, choice_index, request_number) -> Reply | str``."""


@dataclass
class Rule:
    """Replies for requests whose last user message contains ``contains`` (None: all)."""

    contains: str | None
    replies: Sequence[Reply | str]
    latency_s: float | None = None
    served: int = 0  # choices served so far; picks the next reply


FaultKind = Literal["status", "hang", "malformed", "empty_choices", "disconnect"]


@dataclass
class _Fault:
    kind: FaultKind
    remaining: int
    contains: str | None = None
    status: int = 500
    retry_after: float | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received; secret header values are replaced by ``REDACTED``."""

    path: str
    body: Any  # parsed JSON, or the raw text when the body was not JSON
    headers: dict[str, str]
    has_auth: bool  # an Authorization or api-key header was present
    received_at: float = field(default_factory=time.monotonic)


class FakeOpenAI:
    """OpenAI chat-completions (and embeddings) server on ``127.0.0.1`` with scripted replies and faults.

    ``latency_s``, ``n_cap`` and ``script`` may be changed while running.
    ``n_cap`` simulates a provider that ignores ``n``: at most that many choices.
    """

    def __init__(
        self,
        latency_s: float = 0.0,
        *,
        n_cap: int | None = None,
        script: Script | None = None,
        system_fingerprint: str | None = "fp_fake",
        model: str = "fake-model",
        port: int = 0,
    ) -> None:
        self.latency_s = latency_s
        self.n_cap = n_cap
        self.script = script
        self.system_fingerprint = system_fingerprint
        self.model = model
        self.port = port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._rules: list[Rule] = []
        self._faults: list[_Fault] = []
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._failed: BaseException | None = None

    # -- lifecycle -----------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for clients, e.g. ``http://127.0.0.1:54321/v1``."""
        if self._thread is None:
            raise RuntimeError("FakeOpenAI is not running; call start() first")
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        """Bind (in the caller's thread, so errors surface here) and serve in a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("FakeOpenAI is already running")
        sock = _bind(self.port)
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._failed = None
        self._loop = loop
        self._thread = threading.Thread(
            target=self._serve, args=(loop, sock, ready), name="fake-openai", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._failed is not None:
            self._loop = self._thread = None
            raise self._failed
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop promptly: hanging and sleeping requests are dropped, not awaited."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._loop = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, ready: threading.Event
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup(sock))
        except BaseException as error:  # reported by start() in the caller's thread
            self._failed = error
            sock.close()
            loop.close()
            return
        finally:
            ready.set()
        loop.run_forever()
        _cancel_leftovers(loop)
        loop.close()

    async def _setup(self, sock: socket.socket) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for path in ("/v1/chat/completions", "/chat/completions"):
            app.router.add_post(path, self._chat)
        for path in ("/v1/embeddings", "/embeddings"):
            app.router.add_post(path, self._embeddings)
        for path in ("/v1/models", "/models"):
            app.router.add_get(path, self._models)
        # handler_cancellation: a client that gives up cancels its (hanging) handler.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.2
        )
        await self._runner.setup()
        self._closing = asyncio.Event()
        await web.SockSite(self._runner, sock, backlog=1024).start()

    async def _shutdown(self) -> None:
        assert self._closing is not None and self._runner is not None
        self._closing.set()  # wakes hangs and latency sleeps
        await self._runner.cleanup()

    # -- scripting -----------------------------------------------------------

    def add_rule(
        self,
        *,
        contains: str | None = None,
        replies: Sequence[Reply | str],
        latency_s: float | None = None,
    ) -> Rule:
        """Answer matching requests from ``replies``, cycling over every choice served."""
        if not replies:
            raise ValueError("add_rule: replies is empty; expected at least one reply")
        rule = Rule(contains, list(replies), latency_s)
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 429,
        retry_after: float | None = 1.0,
        contains: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` and an OpenAI error body.

        ``retry_after`` (seconds) is sent as a ``Retry-After`` header on 429 and 503
        only, the statuses where providers send it (so a 500 does not slow SDK
        retries); None omits it.
        """
        self._queue(_Fault("status", count, contains, status, retry_after))

    def hang_next(self, count: int = 1, *, contains: str | None = None) -> None:
        """Never answer the next ``count`` matching requests; the client or stop() gives up."""
        self._queue(_Fault("hang", count, contains))

    def malformed_next(
        self, count: int = 1, *, empty_choices: bool = False, contains: str | None = None
    ) -> None:
        """HTTP 200 with a truncated JSON body, or valid JSON with ``choices: []``."""
        self._queue(_Fault("empty_choices" if empty_choices else "malformed", count, contains))

    def disconnect_next(self, count: int = 1, *, contains: str | None = None) -> None:
        """Close the connection without sending any response."""
        self._queue(_Fault("disconnect", count, contains))

    def reset(self) -> None:
        """Forget the request log, rules and queued faults (settings are kept)."""
        with self._lock:
            self._requests.clear()
            self._rules.clear()
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def count(self) -> int:
        """Requests received since start or the last reset()."""
        with self._lock:
            return len(self._requests)

    def _queue(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError(f"fault count must be >= 1, got {fault.remaining}")
        with self._lock:
            self._faults.append(fault)

    # -- request handling (event-loop thread) --------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        number, fault = self._record(request, body)
        if not isinstance(body, dict):
            return _error(400, "invalid_request_error", "request body is not a JSON object")
        if body.get("stream"):
            return _error(400, "invalid_request_error", "FakeOpenAI does not support stream=true")
        if fault is not None:
            return await self._fault_response(request, fault, body)
        replies, latency = self._plan(body, number)
        if await self._sleep(latency):
            return _drop(request)
        return web.Response(
            body=self._completion(body, replies).encode(), content_type="application/json"
        )

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        inputs = _embedding_inputs(body)
        _, fault = self._record(request, body, "\n".join(inputs or ()))
        if inputs is None:
            return _error(400, "invalid_request_error", "'input' must be a string or a list of non-empty strings")
        if fault is not None:
            return await self._fault_response(request, fault, body, self._embedding_list(body, []))
        if await self._sleep(self.latency_s):
            return _drop(request)
        return web.Response(body=self._embedding_list(body, inputs).encode(), content_type="application/json")

    def _embedding_list(self, body: dict[str, Any], inputs: list[str]) -> str:
        dim = body.get("dimensions") or EMBEDDING_DIM
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(fake_embedding(text, dim), as_base64)}
            for i, text in enumerate(inputs)
        ]
        tokens = sum(_words(text) for text in inputs)
        return json.dumps(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", self.model),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _models(self, request: web.Request) -> web.Response:
        model = {"id": self.model, "object": "model", "created": 0, "owned_by": "goldband"}
        return web.json_response({"object": "list", "data": [model]})

    def _record(
        self, request: web.Request, body: Any, text: str | None = None
    ) -> tuple[int, _Fault | None]:
        """Log the request and take the fault for it; ``text`` (default: the last user message)
        is what a fault's ``contains`` is matched against."""
        headers = {
            k: (REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in request.headers.items()
        }
        has_auth = any(k.lower() in _SECRET_HEADERS for k in request.headers)
        if text is None:
            text = _last_user_text(body) if isinstance(body, dict) else ""
        with self._lock:
            self._requests.append(RecordedRequest(request.path, body, headers, has_auth))
            return len(self._requests) - 1, self._take_fault(text)

    def _take_fault(self, text: str) -> _Fault | None:
        """Consume one use of the first queued fault matching ``text`` (lock held)."""
        for fault in self._faults:
            if fault.contains is None or fault.contains in text:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _plan(self, body: dict[str, Any], number: int) -> tuple[list[Reply], float]:
        """Pick one reply per choice and the latency for this request."""
        n = int(body.get("n") or 1)
        if self.n_cap is not None:
            n = min(n, self.n_cap)
        text = _last_user_text(body)
        with self._lock:
            rule = next((r for r in self._rules if r.contains is None or r.contains in text), None)
            if rule is not None:
                picked = [rule.replies[(rule.served + i) % len(rule.replies)] for i in range(n)]
                rule.served += n
                latency = self.latency_s if rule.latency_s is None else rule.latency_s
                return [_as_reply(r) for r in picked], latency
        script = self.script
        if script is not None:
            return [_as_reply(script(body, i, number)) for i in range(n)], self.latency_s
        return [Reply(f"echo: {text}")] * n, self.latency_s

    def _completion(self, body: dict[str, Any], replies: list[Reply]) -> str:
        choices = [_choice(i, r) for i, r in enumerate(replies)]
        prompt = max(1, sum(_words(_text(m.get("content"))) for m in body.get("messages") or ()))
        completion = sum(_words(r.content) + _words(r.tool_calls) for r in replies)
        return json.dumps(
            {
                "id": f"chatcmpl-fake-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", self.model),
                "system_fingerprint": self.system_fingerprint,
                "choices": choices,
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )

    async def _fault_response(
        self, request: web.Request, fault: _Fault, body: dict[str, Any], empty: str | None = None
    ) -> web.StreamResponse:
        """The response a queued fault asks for; ``empty`` is the route's valid body with no
        results (default: a chat completion with no choices)."""
        if fault.kind == "hang":
            await self._sleep(HANG_S)
            return _drop(request)
        if fault.kind == "disconnect" or await self._sleep(self.latency_s):
            return _drop(request)
        if fault.kind == "status":
            return _status_error(fault.status, fault.retry_after)
        if fault.kind == "malformed":
            return web.Response(body=_MALFORMED_BODY, content_type="application/json")
        if empty is None:
            empty = self._completion(body, [])
        return web.Response(body=empty.encode(), content_type="application/json")

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early on shutdown; True when the server is closing."""
        assert self._closing is not None
        if seconds > 0 and not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)
        return self._closing.is_set()


# -- wire-format helpers -----------------------------------------------------


def _as_reply(reply: Reply | str) -> Reply:
    return Reply(reply) if isinstance(reply, str) else reply


def _choice(index: int, reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.refusal is not None:
        message["refusal"] = reply.refusal
    if reply.tool_calls:
        message["tool_calls"] = [_tool_call(index, k, c) for k, c in enumerate(reply.tool_calls)]
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    return {"index": index, "message": message, "finish_reason": finish, "logprobs": None}


def _tool_call(choice: int, k: int, call: Mapping[str, Any]) -> dict[str, Any]:
    args = call.get("arguments", {})
    return {
        "id": f"call_fake_{choice}_{k}",
        "type": "function",
        "function": {
            "name": call["name"],
            "arguments": args if isinstance(args, str) else json.dumps(args),
        },
    }


def _last_user_text(body: dict[str, Any]) -> str:
    """Text of the last user message; content parts are joined with spaces."""
    for message in reversed(body.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def fake_embedding(text: str, dimensions: int = EMBEDDING_DIM) -> list[float]:
    """A deterministic unit vector for ``text``: its lowercased character trigrams (the text padded
    with a space each side), each hashed (CRC-32) into one of ``dimensions`` buckets and counted,
    then L2-normalised. Texts sharing many trigrams get a high cosine similarity.

    >>> v = fake_embedding("Can I return shoes?")
    >>> len(v), round(sum(x * x for x in v), 6)
    (64, 1.0)
    """
    padded = f" {text.lower()} "
    counts = [0.0] * dimensions
    for i in range(max(len(padded) - 2, 0)):
        counts[zlib.crc32(padded[i : i + 3].encode()) % dimensions] += 1.0
    norm = math.sqrt(sum(c * c for c in counts)) or 1.0
    return [c / norm for c in counts]


def _embedding_inputs(body: Any) -> list[str] | None:
    """The texts of an embeddings request, or None when ``input`` is not (a list of) non-empty text."""
    value = body.get("input") if isinstance(body, dict) else None
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        return None
    if not all(isinstance(t, str) and t for t in texts):
        return None
    return texts


def _encode(vector: list[float], as_base64: bool) -> list[float] | str:
    """Floats, or (``encoding_format: base64``, the openai SDK's default) little-endian float32 bytes."""
    if not as_base64:
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def _words(value: Any) -> int:
    """Whitespace word count: a cheap, plausible stand-in for a token count."""
    if not value:
        return 0
    if isinstance(value, str):
        return len(value.split())
    return len(json.dumps(value, default=str).split())


def _error(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
    return web.json_response(body, status=status, headers=headers)


def _status_error(status: int, retry_after: float | None) -> web.Response:
    headers = {}
    if retry_after is not None and status in (429, 503):
        headers["Retry-After"] = _seconds(retry_after)
    if status == 429:
        return _error(status, "rate_limit_exceeded", "Rate limit reached (FakeOpenAI).", headers)
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return _error(status, kind, f"Injected HTTP {status} (FakeOpenAI).", headers)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _drop(request: web.Request) -> web.StreamResponse:
    """Abort the connection; the response returned is never sent."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())


# -- command line ------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; the first stdout line is the base URL."""
    parser = argparse.ArgumentParser(
        prog="python -m goldband.testing.fake_openai",
        description="Serve a fake OpenAI API on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each response")
    parser.add_argument("--n-cap", type=int, default=None, help="return at most this many choices")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    with FakeOpenAI(args.latency, n_cap=args.n_cap, port=args.port) as server:
        print(server.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
