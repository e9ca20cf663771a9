"""The engine: one asyncio loop on a background thread for every LLM call.

pytest runs items one after another; LLM calls must not. The plugin submits
the trials of *all* selected items here at once; each item then only waits
for its own future. The engine owns concurrency (one global semaphore),
per-call timeouts, retries with exponential backoff and full jitter, and a
shared pause when a server answers 429 with ``Retry-After`` (so the other
in-flight requests do not hammer it too).

It also fails fast on a provider that is not there. Before a target has had any
reply, the first attempt that cannot connect at all (refused, no such host, no
route: ``providers.Unreachable``) makes its request the *probe*: the target's
other requests wait, sending nothing, while the probe retries as usual. If the
probe's retries cannot connect either, and ``FAIL_FAST_AFTER`` attempts in all
could not, the target is given up: the waiting requests and every later sample
of it fail at once as *connection* without a call (ERROR trials, never a pass),
and ``EngineStats.outages`` holds one ``Outage`` for the run's summary: one
message instead of a retried error per trial. A reply of any kind (an HTTP error
too) ends the probing for good: a target that answered once is never given up,
and a later outage is retried as any failure is. A healthy target never waits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from goldband.engine.httpclient import DEFAULT_BASE, HttpClient
from goldband.engine.providers import Call, Client, LiteLLMClient, OpenAIClient, Unreachable, client_kind
from goldband.errors import CallFailed
from goldband.results import Completion

T = TypeVar("T")
MAX_BACKOFF_S = 30.0
MAX_RETRY_AFTER_S = 300.0
FAIL_FAST_AFTER = 3  # attempts of a target that could not connect, before any reply, to give it up


@dataclass
class Outage:
    """A target given up on: its first attempts all failed to connect (at least ``FAIL_FAST_AFTER``)."""

    target: str  # the target's name; "" when the call named none (the judge's calls)
    model: str
    api_base: str  # where it was called, without query string or credentials
    error: str  # the last connection error
    tries: int  # attempts that failed to connect before it was given up
    skipped: int = 0  # samples failed without a call since

    @property
    def who(self) -> str:
        return f"target '{self.target}'" if self.target else f"model '{self.model}'"

    def describe(self) -> str:
        """The one summary line: which target, where, the error, what happened to the rest, the fix."""
        rest = f"; {self.skipped} more sample{'s' * (self.skipped != 1)} failed without a call" if self.skipped else ""
        return (f"goldband: {self.who} is unreachable at {self.api_base}: its first {self.tries} "
                f"attempts could not connect ({self.error}){rest}; fix: start the server or correct 'api_base' "
                "(and the network or proxy), then run again")


@dataclass
class EngineStats:
    """Provider traffic, shown in the terminal summary (``report.terminal.engine_line``)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    failures: int = 0
    samples: int = 0
    outages: list[Outage] = field(default_factory=list)  # targets given up (fail fast), in order


class _Reach:
    """What the engine knows of reaching one target, for failing fast.

    Before any reply, the first attempt that cannot connect makes its request the *probe*: the target's
    other requests wait (sending nothing) while the probe retries. A reply (from any request) ends the
    wait for good; the probe's retries all unable to connect give the target up (an ``Outage``); any
    other end of the probe lets the others go on.
    """

    def __init__(self) -> None:
        self.unreachable = 0  # attempts that could not connect, before any reply
        self.answered = False  # something answered: never given up
        self.probe: object | None = None
        self.outage: Outage | None = None
        self._free = asyncio.Event()
        self._free.set()

    def waits(self, me: object) -> bool:
        """True while another request probes the target and nothing has answered."""
        return self.probe is not None and self.probe is not me and not self.answered

    async def wait_for_probe(self, me: object) -> None:
        while self.waits(me):
            await self._free.wait()

    def replied(self) -> None:
        self.answered = True
        self._free.set()

    def failed(self, failure: CallFailed, me: object) -> None:
        if isinstance(failure, Unreachable) and not self.answered:
            self.unreachable += 1
            if self.probe is None:
                self.probe = me
                self._free.clear()
        elif failure.kind != "timeout":  # an HTTP error, a dropped connection: the server is there
            self.replied()

    def release(self, me: object) -> None:
        if self.probe is me:
            self.probe = None
            self._free.set()


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
        self._reach: dict[tuple[str, str | None, str], _Reach] = {}  # per (target, api_base, model)
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
        reach = self._reach.setdefault((call.target, call.endpoint.api_base, call.model), _Reach())
        me, failure = object(), None
        try:
            for attempt in range(1, call.endpoint.max_retries + 2):
                await self._wait_for_pause()
                try:
                    completions = await self._send(client, call, n, reach, me)
                    if completions is None:  # given up while this one waited: send nothing more
                        return self._given_up(reach, failure, n)
                    reach.replied()
                    return completions, attempt
                except TimeoutError:
                    failure = CallFailed("timeout", f"no reply within {call.endpoint.timeout_s:g} s")
                except CallFailed as exc:
                    failure = exc
                failure.attempts = attempt
                reach.failed(failure, me)
                if not failure.retryable or attempt > call.endpoint.max_retries:
                    break
                await asyncio.sleep(self._backoff(attempt, failure, call.endpoint.backoff_s))
            assert failure is not None
            self.stats.failures += 1
            self._settle_probe(reach, me, call, failure)
            return failure
        finally:
            reach.release(me)

    def _settle_probe(self, reach: _Reach, me: object, call: Call, failure: CallFailed) -> None:
        """The probe's retries are spent: give the target up when they could not connect either (and
        ``FAIL_FAST_AFTER`` attempts in all could not, before any reply)."""
        if reach.probe is not me or reach.answered or not isinstance(failure, Unreachable):
            return
        if reach.unreachable >= FAIL_FAST_AFTER and reach.outage is None:
            reach.outage = Outage(call.target, call.model, shown_base(call), failure.message, reach.unreachable)
            self.stats.outages.append(reach.outage)

    async def _send(self, client: Client, call: Call, n: int, reach: _Reach, me: object) -> list[Completion] | None:
        """One attempt under the global limit, once no probe of the target makes it wait; None when the
        target is given up (nothing sent)."""
        while True:
            await reach.wait_for_probe(me)
            async with self._semaphore:
                if reach.outage is not None:
                    return None
                if reach.waits(me):  # a probe began while this one queued for a slot
                    continue
                self.stats.requests += 1
                async with asyncio.timeout(call.endpoint.timeout_s):
                    return await client.complete(call, n)

    def _given_up(self, reach: _Reach, failure: CallFailed | None, n: int) -> CallFailed:
        """A request of a target given up: its last failure if it was sent, else failed without a call."""
        assert reach.outage is not None
        if failure is None:
            return _not_called(reach.outage, n)
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


def _not_called(outage: Outage, n: int) -> CallFailed:
    """The failure of samples of a target given up: no request was sent for them."""
    outage.skipped += n
    failure = Unreachable("connection", f"not called: {outage.who} is unreachable at "
                                        f"{outage.api_base} (its first {outage.tries} attempts could not connect)")
    failure.attempts = 0
    return failure


def shown_base(call: Call) -> str:
    """Where a call goes, fit for a message: scheme, host and path only (no query, no credentials)."""
    base = call.endpoint.api_base
    if not base:
        return "the provider's default address" if client_kind(call.endpoint) == "litellm" else (
            os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE)
    parts = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", "")) or base


def _reseeded(call: Call, index: int) -> Call:
    """Separate requests for repeats get ``seed + index``: distinct yet reproducible samples."""
    seed = call.params.get("seed")
    if not isinstance(seed, int) or index == 0:
        return call
    return replace(call, params={**call.params, "seed": seed + index})
