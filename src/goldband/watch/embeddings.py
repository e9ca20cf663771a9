"""Text embeddings through litellm, for comparing a golden set's inputs with production's.

``goldband golden status`` compares inputs on simple text features always,
and on embeddings when an embedding model is configured (any litellm model
string: ``openai/text-embedding-3-small``, ``ollama/nomic-embed-text``, an
OpenAI-compatible server through ``api_base``). ``embed`` sends the texts in
batches and returns one row per text.

litellm is imported on first use, offline and quiet (``import_litellm``). The
key is read from the environment variable named by ``api_key_env`` at call
time and never appears in a message: a failure is a ``MonitorError`` naming the
model, the ``api_base`` and the texts of the failed batch, with the provider's
message (any copy of the key in it blanked). litellm's OpenAI path reads
``max_retries=0`` as "the default", so the openai SDK retries a rate limit, a
server error or a lost connection twice itself before the error reaches
goldband.

Texts are sent as given, except that an empty text is sent as one space
(OpenAI refuses empty input, and the embedding of nothing is not defined).
Production text is untrusted: it is only ever sent as data.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from goldband._util.llmclients import close_sync_clients
from goldband.config.project import Endpoint
from goldband.engine.providers import classify, import_litellm
from goldband.errors import CallFailed, MonitorError

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["embed"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FIX = {
    "auth": "check that the variable named by api_key_env holds a valid key for this provider",
    "connection": "check api_base and that the embedding server is running",
    "timeout": "raise the timeout, or send smaller batches",
    "rate_limit": "wait and run again, or send smaller batches",
}


def embed(
    texts: Sequence[str],
    *,
    model: str,
    api_base: str | None = None,
    api_key_env: str | None = None,
    batch: int = 256,
    timeout_s: float = 30.0,
) -> npt.NDArray[np.float64]:
    """One embedding row per text, shape ``(len(texts), dimensions)``; ``(0, 0)`` for no texts.

    ``batch`` texts go in one request (providers cap it: OpenAI at 2,048);
    ``timeout_s`` bounds each request (litellm's own default is ten minutes).
    """
    endpoint = _endpoint(model, api_base, api_key_env, batch, timeout_s)
    _check_texts(texts)
    if not texts:
        return np.empty((0, 0))
    litellm = import_litellm()
    try:
        return _embed_all(litellm, texts, endpoint, _key(endpoint), batch, timeout_s)
    finally:
        close_sync_clients(litellm)


def _embed_all(litellm: Any, texts: Sequence[str], endpoint: Endpoint, key: str | None, batch: int,
               timeout_s: float) -> npt.NDArray[np.float64]:
    model, api_base = endpoint.model, endpoint.api_base
    rows: list[npt.NDArray[np.float64]] = []
    for start in range(0, len(texts), batch):
        chunk = [t or " " for t in texts[start:start + batch]]
        try:
            response = litellm.embedding(model=model, input=chunk, api_base=api_base, api_key=key,
                                         timeout=timeout_s, num_retries=0)
        except Exception as exc:
            raise _failed(classify(exc, endpoint), endpoint, start, len(chunk), len(texts)) from None
        rows.append(_vectors(response, endpoint, start, len(chunk), len(texts)))
        if rows[-1].shape[1] != rows[0].shape[1]:
            raise _failed(CallFailed("malformed", f"{rows[-1].shape[1]} dimensions, the first batch had "
                                     f"{rows[0].shape[1]}"), endpoint, start, len(chunk), len(texts))
    return np.vstack(rows)


def _endpoint(model: str, api_base: str | None, api_key_env: str | None, batch: int, timeout_s: float) -> Endpoint:
    if not (isinstance(model, str) and model):
        raise MonitorError(f"embedding model {model!r}", where="embed()",
                           expected="a litellm model string, such as openai/text-embedding-3-small")
    if not (isinstance(batch, int) and batch >= 1):
        raise MonitorError(f"batch={batch!r}", where="embed()", expected="an integer >= 1")
    if not (isinstance(timeout_s, int | float) and timeout_s > 0 and math.isfinite(timeout_s)):
        raise MonitorError(f"timeout_s={timeout_s!r}", where="embed()", expected="a number of seconds > 0")
    if api_key_env is not None and not _ENV_NAME.match(api_key_env):
        raise MonitorError("api_key_env is not an environment variable's name (not shown: it may be the key)",
                           where="embed()", expected="the variable's name, such as OPENAI_API_KEY (never the key)")
    try:
        return Endpoint(model=model, api_base=api_base, api_key_env=api_key_env, timeout_s=timeout_s)
    except ValueError as exc:  # pydantic: credentials in api_base (already hidden from the message)
        raise MonitorError(f"api_base: {_first_error(exc)}", where=f"embedding model {model!r}",
                           expected="a URL without user:password@") from None


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    return str(errors()[0].get("msg")) if callable(errors) and errors() else str(exc)


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise MonitorError("the texts are one string", where="embed()", expected="a sequence of texts",
                           fix="wrap it in a list")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise MonitorError(f"text {bad} is {type(texts[bad]).__name__}", where="embed()", expected="str")


def _key(endpoint: Endpoint) -> str | None:
    """The key from the named variable; a local server without one gets a placeholder (the SDKs insist)."""
    if endpoint.api_key_env is None:
        return "not-needed" if endpoint.api_base else None
    key = os.environ.get(endpoint.api_key_env)
    if not key:
        raise MonitorError(f"the environment variable {endpoint.api_key_env} is not set", where=_where(endpoint),
                           expected="the provider's key in it", fix=f"export {endpoint.api_key_env}=...")
    return key


def _vectors(response: Any, endpoint: Endpoint, start: int, size: int, total: int) -> npt.NDArray[np.float64]:
    """The batch's vectors in input order (by ``index``), checked: one per text, equal width, finite."""
    data = getattr(response, "data", None)
    if not isinstance(data, list) or len(data) != size:
        got = len(data) if isinstance(data, list) else "no"
        raise _failed(CallFailed("malformed", f"{got} embeddings for {size} texts"), endpoint, start, size, total)
    try:
        ordered = sorted(data, key=lambda item: int(_field(item, "index")))
        out = np.array([_field(item, "embedding") for item in ordered], dtype=np.float64)
    except (TypeError, ValueError, KeyError) as exc:
        raise _failed(CallFailed("malformed", f"unreadable embeddings: {exc}"), endpoint, start, size,
                      total) from None
    if out.ndim != 2 or not out.shape[1] or not np.isfinite(out).all():
        raise _failed(CallFailed("malformed", f"embeddings of shape {out.shape}, or not finite"), endpoint, start,
                      size, total)
    return out


def _field(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)


def _failed(failure: CallFailed, endpoint: Endpoint, start: int, size: int, total: int) -> MonitorError:
    message = _redact(failure.message, endpoint)
    return MonitorError(f"embedding texts {start + 1}-{start + size} of {total} failed: {failure.kind}: {message}",
                        where=_where(endpoint), expected="one embedding per text",
                        fix=_FIX.get(failure.kind, "check the model name and the provider's status"))


def _where(endpoint: Endpoint) -> str:
    return f"embedding model {endpoint.model!r}" + (f" at {endpoint.api_base}" if endpoint.api_base else "")


def _redact(text: str, endpoint: Endpoint) -> str:
    key = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None
    return text.replace(key, "<redacted>") if key else text
