"""``embedding_similarity``: cosine similarity of the output's and the reference's embeddings.

    - embedding_similarity: 0.8                 # pass at cosine >= 0.8 (the primary value: min)
      model: openai/text-embedding-3-small      # any litellm embedding model string
      api_base: http://127.0.0.1:8000/v1        # optional: an OpenAI-compatible server
      api_key_env: OPENAI_API_KEY               # optional: the variable's name, never the key
      reference: ["Returns within 30 days."]    # default: the case's reference; a list: the closest counts

Embeddings come from ``litellm.embedding`` (litellm imported on first use, offline and
quiet). Every text (the references above all, but also outputs repeated across
trials) is embedded once per model and endpoint in a process, so a run asks for a
case's reference once, whatever the number of trials and concurrent calls.

The call is blocking I/O, so the check ``waits()``: the engine runs it in a
worker thread (``asyncio.to_thread``), never on its event loop, and the thread pool
bounds how many embedding requests are in flight. A failure (provider down, a
timeout, an HTTP error, a malformed reply) is an *error* score with the provider's
message (the key blanked), never a pass. The endpoint is called in every mode,
replay included: embeddings are not kept in cassettes.

The score is the cosine similarity clamped to [0, 1] (a negative cosine scores 0).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pydantic import Field, field_validator

from goldband._util.llmclients import close_sync_clients
from goldband.checks.base import REGISTRY, CheckContext, CheckResult, CheckSpec, register
from goldband.config.project import ApiBaseChecked
from goldband.errors import CheckError

CACHE_SIZE = 4096  # texts kept per process; a run's references fit many times over
Vector = tuple[float, ...]


for _stale in ("embedding_similarity",):  # a re-import (pytester drops the modules a run imported): afresh
    if getattr(REGISTRY.get(_stale), "__module__", None) == __name__:
        del REGISTRY[_stale]

@register("embedding_similarity")
class EmbeddingSimilarity(CheckSpec, ApiBaseChecked):
    """Pass when the cosine similarity of output and reference embeddings reaches ``min``."""

    primary = "min"

    min: float = Field(0.75, ge=0.0, le=1.0)
    model: str = Field(min_length=1)
    reference: str | list[str] | None = None
    api_base: str | None = None
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    dimensions: int | None = Field(None, ge=1)
    timeout_s: float = Field(30.0, gt=0, le=600)

    @field_validator("reference")
    @classmethod
    def _some_reference(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and not value:
            raise ValueError("an empty list compares with nothing; give at least one reference")
        return value

    def describe(self) -> str:
        return self.label or f"embedding_similarity >= {self.min:g}"

    def waits(self) -> bool:
        return True  # a provider call: the engine runs it in a worker thread

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        refs = ctx.references(self.reference)
        output = self._vector(ctx.output)
        sims = [cosine(output, self._vector(ref)) for ref in refs]
        best = max(range(len(sims)), key=sims.__getitem__)
        ok = sims[best] >= self.min
        which = f", closest of {len(refs)} references: #{best + 1}" if len(refs) > 1 else ""
        return CheckResult(ok, max(0.0, sims[best]),
                           f"cosine {sims[best]:.3f} {'>=' if ok else '<'} {self.min:g} ({self.model}{which})")

    def _vector(self, text: str) -> Vector:
        key = (self.model, self.api_base, self.dimensions, text)
        return EMBEDDINGS.get(key, lambda: self._embed(text))

    def _embed(self, text: str) -> Vector:
        litellm = _litellm()
        extra = {"dimensions": self.dimensions} if self.dimensions else {}
        key = self._key()
        try:
            with _CALLS.active(litellm):
                response = litellm.embedding(model=self.model, input=[text or " "], api_base=self.api_base,
                                             api_key=key, timeout=self.timeout_s, num_retries=0, **extra)
        except Exception as exc:
            raise CheckError(f"{self._where()}: {self._failure(exc)}") from None
        return self._read(response)

    def _key(self) -> str | None:
        if self.api_key_env is None:
            return "not-needed" if self.api_base else None  # a local server without a key; the SDKs insist
        key = os.environ.get(self.api_key_env)
        if not key:
            raise CheckError(f"{self._where()}: the environment variable {self.api_key_env} is not set; "
                             f"fix: export {self.api_key_env}=...")
        return key

    def _read(self, response: Any) -> Vector:
        data = getattr(response, "data", None)
        try:
            if not isinstance(data, list) or len(data) != 1:
                raise ValueError("not one embedding")
            item = data[0]
            vector = tuple(float(x) for x in (item["embedding"] if isinstance(item, dict) else item.embedding))
        except (TypeError, ValueError, KeyError, AttributeError):
            raise CheckError(f"{self._where()}: malformed reply: expected one embedding, found "
                             f"{_shape(data)}") from None
        if not vector or not all(math.isfinite(x) for x in vector):
            raise CheckError(f"{self._where()}: malformed reply: an empty or non-finite embedding")
        return vector

    def _failure(self, exc: BaseException) -> str:
        import openai

        message = _redact(str(exc) or type(exc).__name__, self.api_key_env)
        if isinstance(exc, openai.APITimeoutError | TimeoutError):
            return f"timeout: no reply within {self.timeout_s:g} s"
        if isinstance(exc, openai.APIConnectionError):
            return f"connection: cannot reach {self.api_base or 'the provider'}: {message}"
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            return f"HTTP {status}: {message}"
        return f"{type(exc).__name__}: {message}"

    def _where(self) -> str:
        return f"embedding model {self.model!r}" + (f" at {self.api_base}" if self.api_base else "")


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors; a CheckError when their widths differ or one is all zeros.

    >>> round(cosine((1.0, 0.0), (1.0, 1.0)), 4)
    0.7071
    """
    if len(a) != len(b):
        raise CheckError(f"embeddings of different widths ({len(a)} and {len(b)}): the model changed mid-run?")
    import numpy as np

    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norms = float(np.linalg.norm(va) * np.linalg.norm(vb))
    if norms == 0.0:
        raise CheckError("an all-zero embedding has no direction: cosine similarity is undefined")
    return float(va @ vb) / norms


class _Flight:
    """One text being embedded: later askers wait on ``lock`` and share its result or its error."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.error: CheckError | None = None


class EmbeddingCache:
    """Texts' embeddings by (model, api_base, dimensions, text), least recently used first out.

    Single flight: threads asking for a text while it is being embedded wait for that
    one call and share its vector, or its error (a provider that is down is asked once,
    not once per waiting trial). A failed text is not cached: the next ask tries again.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[Any, ...], Vector] = OrderedDict()
        self._flights: dict[tuple[Any, ...], _Flight] = {}

    def get(self, key: tuple[Any, ...], compute: Callable[[], Vector]) -> Vector:
        """The cached vector for ``key``, else ``compute()`` (a CheckError propagates to every waiter)."""
        with self._lock:
            flight = self._flights.setdefault(key, _Flight())
        with flight.lock:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            if flight.error is not None:
                raise flight.error
            return self._compute(key, flight, compute)

    def _compute(self, key: tuple[Any, ...], flight: _Flight, compute: Callable[[], Vector]) -> Vector:
        try:
            vector = compute()
        except BaseException as exc:
            flight.error = exc if isinstance(exc, CheckError) else None
            with self._lock:
                self._flights.pop(key, None)
            raise
        with self._lock:  # stored before the flight ends, so no later ask misses both
            self._items[key] = vector
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            self._flights.pop(key, None)
        return vector

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


EMBEDDINGS = EmbeddingCache()


class _InFlight:
    """Counts embedding calls in flight; the last one out closes the blocking HTTP clients litellm cached
    for them (left to the garbage collector, their sockets are reported unclosed wherever it runs), and
    never while another thread is still using one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    @contextlib.contextmanager
    def active(self, litellm: Any) -> Iterator[None]:
        with self._lock:
            self._count += 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
                if self._count == 0:
                    close_sync_clients(litellm)


_CALLS = _InFlight()


def _litellm() -> Any:
    """litellm, offline (no price-list download at import) and quiet, as goldband's engine loads it.

    (The engine's ``import_litellm`` sits in a layer above the checks.)"""
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


def _redact(text: str, env: str | None) -> str:
    key = os.environ.get(env) if env else None
    return text.replace(key, "<redacted>") if key else text


def _shape(data: Any) -> str:
    return f"{len(data)} items" if isinstance(data, list) else type(data).__name__
