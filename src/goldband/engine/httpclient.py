"""The lean client: one aiohttp POST per request for OpenAI-compatible endpoints.

The openai SDK spends 1.5-2 ms of CPU per call (request transforms, headers built
per request, a ``uuid4`` idempotency key, pydantic response models). A trial needs
none of that: this client serialises the body once with orjson, posts it on a
keep-alive ``aiohttp`` session, and reads only what a trial keeps (each choice's
content, tool calls, refusal and finish reason; usage; ``system_fingerprint``)
through the same ``parse_response`` rules as the SDK path, so both build the same
``Completion`` objects. Failures go through the same helpers as ``classify``
(``classify_status``, ``connection_failure``, ``timeout_failure``).

It runs for ``openai/...`` models under ``client: auto`` (the default) and for any
model under ``client: http``. The request matches the SDK's: ``POST
{api_base}/chat/completions`` (``api_base`` defaults to ``OPENAI_BASE_URL``, then
``https://api.openai.com/v1``; a query string in it, such as Azure's
``?api-version=...``, is kept), ``model`` without its ``openai/`` prefix, the
messages, the params and ``n`` when above 1; ``Authorization: Bearer`` the key from
``api_key_env`` or ``OPENAI_API_KEY`` (no header when neither is set: a local
server), and ``OpenAI-Organization`` / ``OpenAI-Project`` from ``OPENAI_ORG_ID`` /
``OPENAI_PROJECT_ID`` as the SDK sends them. Like the SDK it goes through a proxy
named in ``HTTP(S)_PROXY`` / ``ALL_PROXY`` (unless ``NO_PROXY`` exempts the host),
trusts the certificates the SDK trusts (``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, else
the system's), and follows redirects.

A call goes to the openai SDK instead (``OpenAIClient``, automatically, per call)
when the lean path would not send what the SDK sends:

- its params hold one of the SDK's request options (``extra_headers``,
  ``extra_query``, ``extra_body``, ``timeout``), which the SDK applies to the
  request rather than sending as fields;
- its params or messages are not plain JSON, so orjson cannot serialise them (a
  pydantic model instance, which the SDK sends as its ``model_dump``; a pydantic
  class as ``response_format``, which the SDK refuses as it does today);
- ``OPENAI_CUSTOM_HEADERS`` is set (the SDK adds those headers and their
  authorization rules to every request; read when the endpoint's first call is made,
  as the SDK reads it when its client is made).

``client: openai`` always uses the SDK and ``client: litellm`` always litellm.
Differences from the SDK that remain: a param the SDK's ``create()`` does not
declare is sent as a field (the SDK refuses it with a TypeError), and a NaN or
infinite float is sent as ``null`` (the SDK refuses it); neither comes from a
valid configuration.
"""

from __future__ import annotations

import os
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from goldband.config.project import Endpoint
from goldband.engine.providers import (
    Call,
    Client,
    OpenAIClient,
    api_key,
    classify_status,
    connection_failure,
    field_of,
    malformed_failure,
    parse_response,
    timeout_failure,
)
from goldband.errors import CallFailed
from goldband.results import Completion

if TYPE_CHECKING:
    import aiohttp
    from multidict import CIMultiDictProxy

SDK_OPTIONS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})
"""Params the openai SDK applies to the request instead of sending: a call with one goes to the SDK."""

DEFAULT_BASE = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Route:
    """Where one (api_base, api_key_env) pair's requests go, and the session that sends them."""

    url: str
    session: aiohttp.ClientSession
    timeout: aiohttp.ClientTimeout
    custom_headers: bool  # OPENAI_CUSTOM_HEADERS was set: the SDK's business (read once, as the SDK does)
    proxy: str | None = None  # from HTTP(S)_PROXY / ALL_PROXY unless NO_PROXY exempts the host, as the SDK does
    proxy_auth: aiohttp.BasicAuth | None = None


@dataclass
class HttpClient:
    """OpenAI-compatible chat completions over one keep-alive aiohttp session per endpoint.

    The engine owns concurrency, retries and the overall timeout; this client adds
    no limit of its own. Calls it does not cover go to ``fallback`` (the openai SDK).
    """

    fallback: Client = field(default_factory=OpenAIClient)
    _routes: dict[tuple[str | None, str | None, float], Route] = field(default_factory=dict)

    def supports_n(self, call: Call) -> bool:
        return call.endpoint.supports_n is not False

    async def complete(self, call: Call, n: int) -> list[Completion]:
        body = request_body(call, n)
        route = self._route(call.endpoint)
        if body is None or route.custom_headers:
            return await self.fallback.complete(call, n)
        start = time.perf_counter()
        status, headers, raw = await _post(route, body, call.endpoint)
        latency_ms = (time.perf_counter() - start) * 1000
        if status >= 400:
            raise classify_status(status, error_message(raw), headers, call.endpoint)
        return parse_reply(raw, latency_ms, call.endpoint)

    def _route(self, endpoint: Endpoint) -> Route:
        key = (endpoint.api_base, endpoint.api_key_env, endpoint.timeout_s)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = _new_route(endpoint, self._session_for(endpoint))
        return route

    def _session_for(self, endpoint: Endpoint) -> aiohttp.ClientSession:
        """One session per (api_base, api_key_env), shared by every timeout: created on the running loop."""
        for (base, env, _), route in self._routes.items():
            if (base, env) == (endpoint.api_base, endpoint.api_key_env):
                return route.session
        return _new_session(endpoint)

    async def close(self) -> None:
        sessions = {id(r.session): r.session for r in self._routes.values()}
        self._routes.clear()
        for session in sessions.values():
            await session.close()
        await self.fallback.close()


def request_body(call: Call, n: int) -> bytes | None:
    """The JSON body, serialised once; None when the call needs the SDK (see the module docstring)."""
    params = call.params
    if params and not SDK_OPTIONS.isdisjoint(params):
        return None
    body = {"model": call.model.removeprefix("openai/"), "messages": call.messages, **params}
    if n > 1:
        body["n"] = n
    try:
        return orjson.dumps(body)
    except TypeError:
        return None


def chat_url(api_base: str | None) -> str:
    """``{api_base}/chat/completions``, keeping a query string (Azure's ``api-version``) after the path.

    >>> chat_url("http://127.0.0.1:8000/v1/")
    'http://127.0.0.1:8000/v1/chat/completions'
    >>> chat_url("https://x.openai.azure.com/openai/deployments/d?api-version=2024-10-21")
    'https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21'
    """
    base = api_base or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE
    path, mark, query = base.partition("?")
    return f"{path.rstrip('/')}/chat/completions{mark}{query}"


def request_headers(endpoint: Endpoint) -> dict[str, str]:
    """The headers the SDK would send that a server may act on: the bearer key, organisation and project."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    key = api_key(endpoint) or os.environ.get("OPENAI_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    for header, env in (("OpenAI-Organization", "OPENAI_ORG_ID"), ("OpenAI-Project", "OPENAI_PROJECT_ID")):
        if (value := os.environ.get(env)) is not None:
            headers[header] = value
    return headers


def _new_session(endpoint: Endpoint) -> aiohttp.ClientSession:
    """Keep-alive, no connection limit (the engine's semaphore is the limit), no cookies; the SDK's TLS trust."""
    import aiohttp

    tls = _sdk_tls() if chat_url(endpoint.api_base).startswith("https:") else True
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ssl=tls)
    return aiohttp.ClientSession(connector=connector, headers=request_headers(endpoint),
                                 cookie_jar=aiohttp.DummyCookieJar(), raise_for_status=False)


def _sdk_tls() -> ssl.SSLContext | bool:
    """The certificates the openai SDK trusts (``SSL_CERT_FILE``/``SSL_CERT_DIR``, else the system's), built
    by the SDK's own transport library; aiohttp's default when that library is absent."""
    try:
        from httpcore2 import default_ssl_context
    except ImportError:
        return True
    context: ssl.SSLContext = default_ssl_context()
    return context


def _new_route(endpoint: Endpoint, session: aiohttp.ClientSession) -> Route:
    import aiohttp
    from aiohttp.helpers import get_env_proxy_for_url
    from yarl import URL

    url = chat_url(endpoint.api_base)
    try:
        proxy, proxy_auth = get_env_proxy_for_url(URL(url))
    except LookupError:
        proxy, proxy_auth = None, None
    return Route(url, session, aiohttp.ClientTimeout(total=endpoint.timeout_s),
                 custom_headers="OPENAI_CUSTOM_HEADERS" in os.environ,
                 proxy=str(proxy) if proxy else None, proxy_auth=proxy_auth)


async def _post(route: Route, body: bytes, endpoint: Endpoint) -> tuple[int, CIMultiDictProxy[str], bytes]:
    """Status, headers and body of one POST; transport failures become CallFailed."""
    import aiohttp

    try:
        async with route.session.post(route.url, data=body, timeout=route.timeout, proxy=route.proxy,
                                      proxy_auth=route.proxy_auth) as response:
            return response.status, response.headers, await response.read()
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        raise connection_failure(exc, endpoint) from None  # refused or unreachable: not a slow server
    except TimeoutError:
        raise timeout_failure(endpoint) from None
    except aiohttp.ClientError as exc:
        raise connection_failure(exc, endpoint) from None  # dropped connection, truncated body


def parse_reply(raw: bytes, latency_ms: float, endpoint: Endpoint) -> list[Completion]:
    """A reply body -> Completions, by the same rules as the SDK path's ``parse_response``."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise malformed_failure(exc, endpoint) from None
    if not isinstance(data, dict):
        raise CallFailed("malformed", f"reply is not a JSON object: {raw[:200]!r}")
    return parse_response(data, latency_ms, endpoint, get=field_of)


def error_message(raw: bytes) -> str:
    """The server's own words from an error body (``error.message`` in OpenAI's shape), else the text.

    >>> error_message(b'{"error": {"message": "Rate limit reached.", "type": "rate_limit"}}')
    'Rate limit reached.'
    >>> error_message(b"<html>Bad gateway</html>")
    '<html>Bad gateway</html>'
    """
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    error = field_of(data, "error")
    for value in (field_of(error, "message"), error, field_of(data, "message")):
        if isinstance(value, str) and value:
            return value
    return raw[:500].decode("utf-8", "replace").strip() or "(empty body)"
