"""Provider clients: one request in, completions out, failures classified.

Three clients share one small protocol: ``await client.complete(call, n)``.

- ``HttpClient`` (``goldband.engine.httpclient``): one aiohttp POST per request for
  OpenAI-compatible endpoints; the default for ``openai/...`` models
  (``client: auto`` or ``client: http``). It hands the calls it does not cover to
  ``OpenAIClient`` (see that module's docstring for the exact rule).
- ``OpenAIClient``: the openai SDK on its aiohttp transport (``client: openai``, and
  the lean path's fallback).
- ``LiteLLMClient``: litellm, for every other provider. Imported only when the
  first call is about to happen, with ``LITELLM_OFFLINE_MODE`` set so that the
  import does not fetch a price list.

All are created per event loop and closed with it. Every failure becomes a
``CallFailed`` with a kind (timeout, rate_limit, auth, server, http, connection,
malformed, refusal) and, for 429s, the server's ``Retry-After``. The helpers that
decide the kind (``classify_status``, ``connection_failure``, ``timeout_failure``)
and read a reply (``parse_response``) are shared by all clients, so the paths
cannot drift apart.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from goldband.config.project import Endpoint
from goldband.errors import CallFailed
from goldband.results import Completion, ToolCall


@dataclass(frozen=True)
class Call:
    """One provider request, minus the secret (read from ``api_key_env`` at send time)."""

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    endpoint: Endpoint
    target: str = ""  # the target's name, for messages ("" for the judge's calls)


class Unreachable(CallFailed):
    """A connection that could not be made at all (refused, no such host, no route, connect timeout):
    nothing is listening there. Kind ``connection``, like a connection the server dropped, which is
    not one of these; the scheduler gives a target up when its first calls are all unreachable."""


class Client(Protocol):
    async def complete(self, call: Call, n: int) -> list[Completion]: ...
    def supports_n(self, call: Call) -> bool: ...
    async def close(self) -> None: ...


def api_key(endpoint: Endpoint) -> str | None:
    return os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None


def client_kind(endpoint: Endpoint) -> str:
    """``http`` (the lean path), ``openai`` (the SDK) or ``litellm``: the client an endpoint's calls go to."""
    if endpoint.client != "auto":
        return endpoint.client
    return "http" if (endpoint.model or "").startswith("openai/") else "litellm"


def speaks_openai(endpoint: Endpoint) -> bool:
    """True when calls reach an OpenAI-compatible API directly (lean path or SDK), not through litellm."""
    return client_kind(endpoint) in ("http", "openai")


@dataclass
class OpenAIClient:
    """The openai SDK with its aiohttp transport; one AsyncOpenAI per endpoint."""

    _clients: dict[tuple[str | None, str | None], Any] = field(default_factory=dict)

    def supports_n(self, call: Call) -> bool:
        return call.endpoint.supports_n is not False

    def _client(self, endpoint: Endpoint) -> Any:
        key = (endpoint.api_base, endpoint.api_key_env)
        if key not in self._clients:
            import openai

            self._clients[key] = openai.AsyncOpenAI(
                base_url=endpoint.api_base,
                api_key=api_key(endpoint) or os.environ.get("OPENAI_API_KEY") or "not-needed",
                max_retries=0,  # goldband owns retries and honours Retry-After itself
                timeout=endpoint.timeout_s,
                http_client=openai.DefaultAioHttpClient(timeout=endpoint.timeout_s),
            )
        return self._clients[key]

    async def complete(self, call: Call, n: int) -> list[Completion]:
        client = self._client(call.endpoint)
        model = call.model.removeprefix("openai/")
        extra = {"n": n} if n > 1 else {}
        start = time.perf_counter()
        try:
            response = await client.chat.completions.create(
                model=model, messages=call.messages, **call.params, **extra)
        except Exception as exc:
            raise classify(exc, call.endpoint) from None
        return parse_response(response, (time.perf_counter() - start) * 1000, call.endpoint)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


def litellm_offline() -> None:
    """Without these, importing litellm fetches a price list from the internet."""
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")


def import_litellm() -> Any:
    """litellm, imported offline and quiet: the one way goldband loads it."""
    litellm_offline()
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


@dataclass
class LiteLLMClient:
    """litellm for every provider; imported lazily, offline, quiet."""

    _module: Any = None

    def _litellm(self) -> Any:
        if self._module is None:
            self._module = import_litellm()
        return self._module

    def supports_n(self, call: Call) -> bool:
        if call.endpoint.supports_n is not None:
            return call.endpoint.supports_n
        try:
            params = self._litellm().get_supported_openai_params(model=call.model) or []
        except Exception:
            return False
        return "n" in params

    async def complete(self, call: Call, n: int) -> list[Completion]:
        litellm = self._litellm()
        extra = {"n": n} if n > 1 else {}
        start = time.perf_counter()
        try:
            response = await litellm.acompletion(
                model=call.model, messages=call.messages, api_base=call.endpoint.api_base,
                api_key=api_key(call.endpoint) or _keyless(call.endpoint), timeout=call.endpoint.timeout_s,
                num_retries=0, max_retries=0, **call.params, **extra)
        except Exception as exc:
            raise classify(exc, call.endpoint) from None
        latency = (time.perf_counter() - start) * 1000
        completions = parse_response(response, latency, call.endpoint)
        if call.endpoint.price is None:
            completions = _with_litellm_cost(litellm, response, completions)
        return completions

    async def close(self) -> None:
        """Close litellm's cached clients: they are bound to this loop, which is ending."""
        if self._module is None:
            return
        closer = getattr(self._module, "close_litellm_async_clients", None)
        if closer is not None:
            await closer()
        cache = getattr(self._module, "in_memory_llm_clients_cache", None)
        if cache is not None and hasattr(cache, "flush_cache"):
            cache.flush_cache()


def _keyless(endpoint: Endpoint) -> str | None:
    """A local OpenAI-compatible server needs no key, but the SDKs insist on one."""
    return "not-needed" if endpoint.api_base and not endpoint.api_key_env else None


Getter = Callable[[Any, str], Any]
"""How a parser reads a field: ``getattr`` for the SDKs' objects, ``field`` for parsed JSON."""


def attribute(obj: Any, name: str) -> Any:
    """A field of an SDK response object (None when absent)."""
    return getattr(obj, name, None)


def field_of(obj: Any, name: str) -> Any:
    """A field of a parsed JSON object (None when absent, or when ``obj`` is not an object)."""
    return obj.get(name) if isinstance(obj, dict) else None


def parse_response(response: Any, latency_ms: float, endpoint: Endpoint, get: Getter = attribute) -> list[Completion]:
    """A chat completion -> one Completion per choice; anything off-shape is 'malformed'.

    ``get`` reads one field, so the SDK's objects and the lean path's parsed JSON go
    through the very same rules and build the same Completions.
    """
    choices = get(response, "choices")
    if not isinstance(choices, list) or not choices:
        raise CallFailed("malformed", f"reply has no choices: {str(response)[:200]!r}")
    usage = get(response, "usage")
    prompt_tokens = get(usage, "prompt_tokens")
    completion_total = get(usage, "completion_tokens")
    share = completion_total // len(choices) if isinstance(completion_total, int) else None
    cost = _price(endpoint, prompt_tokens, completion_total)
    shared = Completion(
        output=None, prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
        completion_tokens=share, cost_usd=cost / len(choices) if cost is not None else None,
        system_fingerprint=_text_or_none(get(response, "system_fingerprint")), latency_ms=round(latency_ms, 3))
    return [_completion(c, shared, get) for c in choices]


def _completion(choice: Any, shared: Completion, get: Getter) -> Completion:
    """One choice, on top of what every choice of the reply shares (usage, cost, fingerprint, latency)."""
    message = get(choice, "message")
    if message is None:
        raise CallFailed("malformed", "a choice has no message")
    content = get(message, "content")
    calls = tuple(_tool_call(t, get) for t in get(message, "tool_calls") or ())
    refusal = get(message, "refusal")
    if content is None and not calls and isinstance(refusal, str) and refusal:
        raise CallFailed("refusal", refusal)  # structured outputs' refusal: not retryable, kept as evidence
    if content is None and not calls:
        raise CallFailed("malformed", "a choice has neither content nor tool calls")
    return Completion(
        output=_text_or_none(content), tool_calls=calls, prompt_tokens=shared.prompt_tokens,
        completion_tokens=shared.completion_tokens, cost_usd=shared.cost_usd,
        system_fingerprint=shared.system_fingerprint, finish_reason=get(choice, "finish_reason"),
        latency_ms=shared.latency_ms)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _tool_call(raw: Any, get: Getter = attribute) -> ToolCall:
    function = get(raw, "function")
    return tool_call(get(function, "name") or "?", get(function, "arguments") or "{}")


def tool_call(name: str, arguments: Any) -> ToolCall:
    """A ToolCall whose arguments are parsed when they are a JSON object's text (as providers send them),
    else kept as given: the one rule for provider replies and callable targets alike.

    >>> tool_call("refund", '{"amount": 20}'), tool_call("refund", "not json").arguments
    (ToolCall(name='refund', arguments={'amount': 20}), 'not json')
    """
    import json

    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except json.JSONDecodeError:
        parsed = arguments
    return ToolCall(name, parsed if isinstance(parsed, dict) else arguments)


def _price(endpoint: Endpoint, prompt_tokens: Any, completion_tokens: Any) -> float | None:
    if endpoint.price is None or not isinstance(prompt_tokens, int) or not isinstance(completion_tokens, int):
        return None
    return (prompt_tokens * endpoint.price.input_per_mtok
            + completion_tokens * endpoint.price.output_per_mtok) / 1e6


def _with_litellm_cost(litellm: Any, response: Any, completions: list[Completion]) -> list[Completion]:
    try:
        total = float(litellm.completion_cost(completion_response=response))
    except Exception:
        return completions  # an unpriced model: cost stays unknown, never guessed
    from dataclasses import replace

    return [replace(c, cost_usd=total / len(completions)) for c in completions]


def classify(exc: BaseException, endpoint: Endpoint) -> CallFailed:
    """Map SDK/litellm exceptions to a CallFailed kind, keeping the server's message."""
    import openai

    message = _redact(str(exc) or type(exc).__name__, endpoint)
    if isinstance(exc, CallFailed):
        return exc
    if isinstance(exc, (openai.APITimeoutError, TimeoutError)) and not _connect_failure(exc):
        return timeout_failure(endpoint)
    if isinstance(exc, openai.APIConnectionError):
        return connection_failure(_connect_failure(exc) or exc, endpoint)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return classify_status(status, message, _headers(exc), endpoint)
    if isinstance(exc, (ValueError, KeyError, TypeError, AttributeError)):
        return malformed_failure(exc, endpoint)
    return CallFailed("provider", f"{type(exc).__name__}: {message}")


def classify_status(status: int, message: str, headers: Mapping[str, str], endpoint: Endpoint) -> CallFailed:
    """An HTTP error status -> its CallFailed kind; ``headers`` looked up by lower-case name.

    ``message`` is the server's own (redacted here: it may echo the key).
    """
    message = _redact(message, endpoint)
    if status == 429:
        return CallFailed("rate_limit", message, retry_after=parse_retry_after(headers))
    if status in (401, 403):
        env = endpoint.api_key_env or "the provider's key variable"
        return CallFailed("auth", f"authentication failed ({status}); check {env}: {message}")
    if status >= 500 or status in (408, 409):
        return CallFailed("server", f"HTTP {status}: {message}")
    return CallFailed("http", f"HTTP {status}: {message}")


def timeout_failure(endpoint: Endpoint) -> CallFailed:
    return CallFailed("timeout", f"no reply within {endpoint.timeout_s:g} s")


def connection_failure(cause: BaseException, endpoint: Endpoint) -> CallFailed:
    """The server could not be reached (``Unreachable``), or dropped the connection: retryable, and never
    called a timeout."""
    detail = _redact(str(cause) or type(cause).__name__, endpoint)
    kind = Unreachable if cannot_connect(cause) else CallFailed
    return kind("connection", f"cannot reach {endpoint.api_base or 'the provider'}: {detail}")


_CONNECT_ERRORS = frozenset({"ClientConnectorError", "ConnectionTimeoutError", "ConnectError", "ConnectTimeout",
                             "ConnectionRefusedError", "gaierror"})


def cannot_connect(exc: BaseException) -> bool:
    """True when ``exc`` (aiohttp's, httpx's or the OS's) says no connection could be made; a TLS or
    certificate failure is not one (something answered)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & _CONNECT_ERRORS) and not any("SSL" in n or "Certificate" in n for n in names)


def malformed_failure(exc: BaseException, endpoint: Endpoint) -> CallFailed:
    message = _redact(str(exc) or type(exc).__name__, endpoint)
    return CallFailed("malformed", f"unreadable reply: {type(exc).__name__}: {message}")


def _connect_failure(exc: BaseException) -> BaseException | None:
    """The connect error behind an SDK exception (aiohttp's transport reports a refused
    connection as a *timeout*), so an unreachable server is not mistaken for a slow one."""
    seen: BaseException | None = exc.__cause__ or exc.__context__
    for _ in range(5):
        if seen is None:
            return None
        if type(seen).__name__ in ("ConnectError", "ConnectTimeout", "ClientConnectorError"):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms``, else ``retry-after`` (seconds or an HTTP date); None without either.

    >>> parse_retry_after({"retry-after": "2"}), parse_retry_after({"retry-after-ms": "1500"})
    (2.0, 1.5)
    """
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = _http_date(value)
        return max(0.0, parsed - time.time()) if parsed is not None else None


def _http_date(value: str) -> float | None:
    """An HTTP date's timestamp; None when it is not one (a malformed header is ignored, not fatal)."""
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() if value else None
    except (TypeError, ValueError):
        return None


def _headers(exc: BaseException) -> dict[str, str]:
    for source in (getattr(exc, "response", None), exc):
        for attr in ("headers", "litellm_response_headers"):
            headers = getattr(source, attr, None)
            if headers:
                return {str(k).lower(): str(v) for k, v in dict(headers).items()}
    return {}


def _redact(text: str, endpoint: Endpoint) -> str:
    """Never let a key reach a report: blank out the key's value wherever it appears."""
    key = api_key(endpoint)
    return text.replace(key, "<redacted>") if key and len(key) >= 8 else text
