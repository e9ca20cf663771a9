"""The engine: one asyncio loop on a background thread for every LLM call.

pytest runs items one after another; LLM calls must not. The plugin submits
the trials of *all* selected items here at once; each item then only waits
for its own future. The engine owns concurrency (one global semaphore),
per-call timeouts, retries with exponential backoff and full jitter, and a
shared pause when a server answers 429 with ``Retry-After`` (so the other
in-flight requests do not hammer it too).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import random
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from goldband.engine.httpclient import HttpClient
from goldband.engine.providers import Call, Client, LiteLLMClient, OpenAIClient, client_kind
from goldband.errors import CallFailed
from goldband.results import Completion

T = TypeVar("T")
MAX_BACKOFF_S = 30.0
MAX_RETRY_AFTER_S = 300.0


@dataclass
class EngineStats:
    """Provider traffic, shown in the terminal summary (``report.terminal.engine_line``)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    failures: int = 0
    samples: int = 0


@dataclass(frozen=True)
class Sample:
    """One sample index's result: a completion or the failure that replaced it."""

    index: int
    completion: Completion | None
    failure: CallFailed | None
    attempts: int


class Engine:
    def __init__(self, *, concurrency: int, seed: int | None = None) -> None:
        self.concurrency = concurrency
        self.stats = EngineStats()
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="goldband-engine", daemon=True)
        self._thread.start()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._clients: dict[str, Client] = {"http": HttpClient(sdk := OpenAIClient()), "openai": sdk,
                                            "litellm": LiteLLMClient()}
        self._resume_at = 0.0  # monotonic time before which no request is sent (429 pause)
        self._closed = False

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the engine's loop; thread-safe."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def limited(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run non-provider work (callable targets) under the same global limit."""
        async with self._semaphore:
            return await coro

    async def generate(self, call: Call, indices: list[int]) -> list[Sample]:
        """Samples for ``indices``: one ``n=len`` request where supported, else one each.

        A provider that silently returns fewer choices than asked for gets the rest
        requested separately: never fewer samples than asked for.
        """
        self.stats.samples += len(indices)  # asked for, whether or not they come back
        client = self._clients[client_kind(call.endpoint)]
        done: list[Sample] = []
        if len(indices) > 1 and client.supports_n(call):
            batch = await self._request(call, len(indices))
            if isinstance(batch, CallFailed):
                return [Sample(i, None, batch, batch.attempts) for i in indices]
            completions, attempts = batch
            done = [Sample(i, c, None, attempts) for i, c in zip(indices, completions, strict=False)]
        rest = indices[len(done):]
        singles = await asyncio.gather(*(self._single(call, i) for i in rest))
        return [*done, *singles]

    async def _single(self, call: Call, index: int) -> Sample:
        result = await self._request(_reseeded(call, index), 1)
        if isinstance(result, CallFailed):
            return Sample(index, None, result, result.attempts)
        completions, attempts = result
        return Sample(index, completions[0], None, attempts)

    async def _request(self, call: Call, n: int) -> tuple[list[Completion], int] | CallFailed:
        client = self._clients[client_kind(call.endpoint)]
        for attempt in range(1, call.endpoint.max_retries + 2):
            await self._wait_for_pause()
            try:
                async with self._semaphore:
                    self.stats.requests += 1
                    async with asyncio.timeout(call.endpoint.timeout_s):
                        return await client.complete(call, n), attempt
            except TimeoutError:
                failure = CallFailed("timeout", f"no reply within {call.endpoint.timeout_s:g} s")
            except CallFailed as exc:
                failure = exc
            failure.attempts = attempt
            if not failure.retryable or attempt > call.endpoint.max_retries:
                break
            await asyncio.sleep(self._backoff(attempt, failure, call.endpoint.backoff_s))
        self.stats.failures += 1
        return failure

    def _backoff(self, attempt: int, failure: CallFailed, base_s: float) -> float:
        self.stats.retries += 1
        if failure.kind == "rate_limit":
            self.stats.rate_limited += 1
        if failure.retry_after is not None:
            delay = min(failure.retry_after, MAX_RETRY_AFTER_S) + self._rng.uniform(0, base_s / 10)
            self._resume_at = max(self._resume_at, time.monotonic() + delay)
            return delay
        return self._rng.uniform(0, min(MAX_BACKOFF_S, base_s * 2 ** (attempt - 1)))

    async def _wait_for_pause(self) -> None:
        while (wait := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    def close(self) -> None:
        """Cancel what is still running, close clients, stop the loop."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _shutdown(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in self._clients.values():
            await client.close()


def _reseeded(call: Call, index: int) -> Call:
    """Separate requests for repeats get ``seed + index``: distinct yet reproducible samples."""
    seed = call.params.get("seed")
    if not isinstance(seed, int) or index == 0:
        return call
    return replace(call, params={**call.params, "seed": seed + index})
