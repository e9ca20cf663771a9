"""Judge calls for one run: one request per output through the engine, per the run's mode.

Where a judge sample comes from, first that applies:

- ``replay``: the judge cassette ``cassettes/judge/RUBRIC.jsonl`` only; a miss is an
  *error* score naming the case, target, rubric and sample (never a live call).
- ``live`` / ``cached``: the judge cache (an unchanged output is never judged twice),
  else the provider; parsed judgements are cached.
- ``record``: the provider; every reply (parsed or not) is written to the cassette.

Calls go through the run's ``Engine`` (same concurrency limit, timeouts, retries,
``Retry-After``), one request for all criteria of a rubric, ``n = samples`` where the
provider supports it. Identical judgements requested concurrently (five trials with
the same output) share one call. The reply format is requested as JSON Schema where
the provider supports it (``structured: auto``): always for the openai client (OpenAI
and compatible servers implement ``response_format: json_schema``), and for litellm
models where ``litellm.supports_response_schema`` says so; otherwise the prompt alone
asks for JSON and the reply is parsed strictly either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from goldband._util import yamlio
from goldband._util.hashing import canonical_hash
from goldband.checks.base import CheckContext, CheckSpec
from goldband.config.project import JudgeConfig
from goldband.engine.cassettes import Cassette, CassetteLibrary
from goldband.engine.providers import Call, import_litellm, speaks_openai
from goldband.engine.scheduler import Engine, Sample
from goldband.errors import ReplyError
from goldband.judge import prompt, reply
from goldband.judge.cache import JudgeCache, open_cache
from goldband.judge.check import RubricCheck
from goldband.judge.endpoint import judge_hash, resolve_endpoint
from goldband.judge.gate import gate_for
from goldband.judge.rubric import Rubric
from goldband.judge.scoring import Gate, SampleResult, rubric_scores
from goldband.results import Completion, Score
from goldband.store import Store


@dataclass(frozen=True)
class Subject:
    """What is being judged, for messages and cassette records."""

    case: str
    target: str
    goldenset: str = ""


@dataclass(frozen=True)
class JudgeRequest:
    """One judgement to obtain: its keys per sample index, and how to ask for and read it."""

    rubric: Rubric
    keys: dict[int, str]  # sample index -> cache/cassette key
    messages: Callable[[str], list[dict[str, str]]]  # fence id -> chat messages
    validate: Callable[[str | None, str | None], Any]  # reply text, finish reason -> parsed reply (ReplyError)
    response_format: Callable[[str], dict[str, Any]]  # json_schema | json_object -> request parameter
    record: dict[str, Any]  # extra cassette fields (what was judged)
    output: str | None = None  # the output under test, to explain a replay miss


@dataclass
class JudgeStats:
    calls: int = 0  # judge requests started (one per output, n = samples)
    live: int = 0  # samples judged by the provider
    cached: int = 0  # samples served by the judge cache
    replayed: int = 0  # samples served by judge cassettes


@dataclass
class JudgeRuntime:
    """Per-run judge state: config, mode, cassettes, cache, gate policy, counters."""

    config: JudgeConfig | None
    mode: str
    root: Path
    cassettes: Path  # the cassette directory; judge cassettes live in its judge/ folder
    library: CassetteLibrary
    cache: JudgeCache
    gate_policy: str = "calibrated"  # calibrated | always
    stats: JudgeStats = field(default_factory=JudgeStats)
    _endpoints: dict[str, tuple[JudgeConfig, str]] = field(default_factory=dict)  # rubric -> endpoint, its hash
    _gates: dict[str, Gate] = field(default_factory=dict)
    _inflight: dict[str, asyncio.Future[SampleResult]] = field(default_factory=dict)
    _structured: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, config: JudgeConfig | None, *, mode: str, root: Path, cassettes: Path, cache_dir: Path,
               library: CassetteLibrary, gate: str | None = None,
               store: Callable[[], Store] | None = None) -> JudgeRuntime:
        """``store`` opens the session's results store, which then holds the judge cache (else ``cache_dir``)."""
        cache = open_cache(persist=config is None or config.cache, store=store, cache_dir=cache_dir)
        policy = gate or (config.gate if config else "calibrated")
        return cls(config, mode, root, cassettes, library, cache, policy)

    # -- identity ---------------------------------------------------------------------

    def endpoint(self, rubric: Rubric) -> JudgeConfig:
        """goldband.yaml's judge with the rubric's overrides (params merged, the rest replaced)."""
        return self._identity(rubric)[0]

    def judge_hash(self, rubric: Rubric) -> str:
        return self._identity(rubric)[1]

    def _identity(self, rubric: Rubric) -> tuple[JudgeConfig, str]:
        if rubric.name not in self._endpoints:
            endpoint = resolve_endpoint(self.config, rubric)
            self._endpoints[rubric.name] = (endpoint, judge_hash(endpoint))
        return self._endpoints[rubric.name]

    def key(self, rubric: Rubric, data: prompt.JudgeData, index: int) -> str:
        return canonical_hash({"judge": self.judge_hash(rubric), "rubric": rubric.prompt_hash,
                               **data.key_parts(), "sample": index})

    def meta(self, rubric: Rubric) -> dict[str, Any]:
        """What every judge score carries: which rubric and which judge produced it."""
        endpoint, hashed = self._identity(rubric)
        return {"rubric": rubric.name, "rubric_version": rubric.version, "rubric_hash": rubric.content_hash,
                "judge_model": endpoint.model, "judge_params": endpoint.params,
                "judge_hash": hashed, "samples": rubric.samples, "combine": rubric.combine}

    def gate(self, rubric: Rubric) -> Gate:
        if rubric.name not in self._gates:
            require = bool(self.config and self.config.require_calibration)
            self._gates[rubric.name] = gate_for(rubric, self.judge_hash(rubric), self.root, self.gate_policy,
                                                require_calibration=require)
        return self._gates[rubric.name]

    # -- judging ----------------------------------------------------------------------

    async def grade(self, check: CheckSpec, ctx: CheckContext, engine: Engine) -> list[Score]:
        """The engine's ``Judge`` protocol: a rubric check's scores on one trial (errors are scores)."""
        if not isinstance(check, RubricCheck):
            return [Score(check.describe(), "error", 0.0, f"the judge cannot grade check '{check.name}'",
                          kind="rubric")]
        rubric = check.loaded(ctx.base_dir)
        threshold = check.threshold if check.threshold is not None else rubric.pass_score
        meta, gate = self.meta(rubric), self.gate(rubric)
        if rubric.show_reference and ctx.reference is None:
            miss = SampleResult(0, None, f"rubric '{rubric.name}' grades against the reference, but case "
                                f"'{ctx.trial.case_id}' has none; fix: add 'reference:' to the case", None, "none",
                                "config")
            return rubric_scores(rubric, check.describe(), threshold, [miss], gate, meta)
        data = prompt.judge_data(rubric, prompt.output_text(ctx.trial), ctx.case_input, ctx.reference)
        subject = Subject(ctx.trial.case_id, ctx.trial.target)
        results = await self.judge(engine, rubric, data, subject, range(rubric.samples))
        return rubric_scores(rubric, check.describe(), threshold, results, gate, meta)

    async def judge(self, engine: Engine, rubric: Rubric, data: prompt.JudgeData, subject: Subject,
                    indices: range | list[int]) -> list[SampleResult]:
        """One result per judge sample index, from cassette, cache or one provider request."""
        request = JudgeRequest(
            rubric=rubric, keys={i: self.key(rubric, data, i) for i in indices},
            messages=lambda nonce: prompt.messages(rubric, data, nonce),
            validate=lambda text, finish_reason: reply.parse_reply(text, rubric, finish_reason),
            response_format=lambda kind: reply.response_format(reply.model_for(rubric), "judge_reply", kind),
            record={"data": data.key_parts()}, output=data.output)
        return await self.obtain(engine, request, subject)

    async def obtain(self, engine: Engine, request: JudgeRequest, subject: Subject) -> list[SampleResult]:
        """The generic path (rubric scores, pairwise comparisons): stored, else requested."""
        found = {i: r for i, k in request.keys.items() if (r := self._stored(request, k, i)) is not None}
        missing = {i: k for i, k in request.keys.items() if i not in found}
        if missing and self.mode == "replay":
            found.update({i: self._miss(request, subject, i) for i in missing})
        elif missing:
            found.update(await self._fetch(engine, request, subject, missing))
        return [found[i] for i in request.keys]

    def _stored(self, request: JudgeRequest, key: str, index: int) -> SampleResult | None:
        if self.mode == "replay":
            completion = self._cassette(request.rubric).get(key)
            if completion is None:
                return None
            self.stats.replayed += 1
            return read(request, completion, index, "cassette")
        if self.mode == "record":
            return None
        entry = self.cache.get(key)
        if entry is None or not isinstance(entry.get("completion"), dict):
            return None
        result = read(request, Completion.from_json(entry["completion"]), index, "cache")
        if result.error is not None:
            return None
        self.stats.cached += 1
        return result

    async def _fetch(self, engine: Engine, request: JudgeRequest, subject: Subject,
                     keys: dict[int, str]) -> dict[int, SampleResult]:
        """Single flight: a key already being judged is awaited, not requested again."""
        loop = asyncio.get_running_loop()
        mine = [i for i, k in keys.items() if k not in self._inflight]
        for i in mine:
            self._inflight[keys[i]] = loop.create_future()
        waits = {i: self._inflight[k] for i, k in keys.items()}
        if mine:
            try:
                for sample in await engine.generate(self._call(request), mine):
                    waits[sample.index].set_result(self._finish(request, subject, keys[sample.index], sample))
            finally:
                for i in mine:
                    future = self._inflight.pop(keys[i])
                    if not future.done():
                        future.cancel()
        return {i: await future for i, future in waits.items()}

    def _call(self, request: JudgeRequest) -> Call:
        endpoint = self.endpoint(request.rubric)
        params = dict(endpoint.params)
        kind = self._structured_kind(endpoint)
        if kind != "off" and "response_format" not in params:
            params["response_format"] = request.response_format(kind)
        self.stats.calls += 1
        return Call(model=endpoint.model or "", messages=request.messages(prompt.new_nonce()), params=params,
                    endpoint=endpoint)

    def _structured_kind(self, endpoint: JudgeConfig) -> str:
        model = endpoint.model or ""
        if endpoint.structured != "auto":
            return endpoint.structured
        if model not in self._structured:
            supported = speaks_openai(endpoint) or _litellm_supports_schema(model)
            self._structured[model] = "json_schema" if supported else "off"
        return self._structured[model]

    def _finish(self, request: JudgeRequest, subject: Subject, key: str, sample: Sample) -> SampleResult:
        if sample.completion is None:
            failure = sample.failure
            kind = failure.kind if failure is not None else "provider"
            text = str(failure) if failure is not None else "no completion"
            what = f"the judge refused: {failure.message}" if failure and kind == "refusal" else \
                f"judge call failed: {text}"
            return SampleResult(sample.index, None, what, text, "live", kind)
        self.stats.live += 1
        result = read(request, sample.completion, sample.index, "live")
        record = self.cassette_record(request.rubric, subject, sample.index, request.record)
        if self.mode == "record":
            self._cassette(request.rubric).put(key, record, sample.completion)
        if result.error is None:
            self.cache.put(key, {**record, "judge_hash": self.judge_hash(request.rubric),
                                 "completion": sample.completion.to_json()})
        return result

    # -- cassettes --------------------------------------------------------------------

    def cassette_path(self, rubric: Rubric) -> Path:
        return self.cassettes / "judge" / f"{rubric.name}.jsonl"

    def _cassette(self, rubric: Rubric) -> Cassette:
        return self.library.get(self.cassette_path(rubric))

    def cassette_record(self, rubric: Rubric, subject: Subject, index: int, extra: dict[str, Any]
                        ) -> dict[str, Any]:
        """What a judge cassette line (and cache entry) says about its judgement, besides the reply."""
        endpoint = self.endpoint(rubric)
        return {"goldenset": subject.goldenset, "case": subject.case, "target": subject.target, "sample": index,
                "rubric": rubric.name, "rubric_hash": rubric.content_hash,
                "judge_model": endpoint.model, "judge_params": endpoint.params, **extra}

    def _miss(self, request: JudgeRequest, subject: Subject, index: int) -> SampleResult:
        rubric = request.rubric
        path = yamlio.relative(self.cassette_path(rubric), self.root)
        why = self._why_missing(request, subject, index)
        message = (f"replay: no judge cassette entry for case '{subject.case}', target '{subject.target}', "
                   f"rubric '{rubric.name}', judge sample {index} in {path}: {why}; fix: record it with "
                   "--goldband-mode record (needs the judge's provider)")
        return SampleResult(index, None, message, None, "none", "cassette_miss")

    def _why_missing(self, request: JudgeRequest, subject: Subject, index: int) -> str:
        same = [e for e in self._cassette(request.rubric).entries.values()
                if e.get("case") == subject.case and e.get("target") == subject.target and e.get("sample") == index]
        if not same:
            return "nothing recorded for it"
        if request.output is not None and all((e.get("data") or {}).get("output") != request.output for e in same):
            return "the output under test differs from the recorded one (the target's output changed)"
        return "a judgement of this output exists for another rubric version or judge (the rubric's prompt, " \
               "the judge model or its params changed since recording)"

    def close(self) -> None:
        self.cache.close()


def read(request: JudgeRequest, completion: Completion, index: int, source: str) -> SampleResult:
    """A completion -> a parsed sample, or an error sample keeping the raw reply."""
    raw = completion.output
    if raw is None and completion.tool_calls:
        calls = [c.name for c in completion.tool_calls]
        return SampleResult(index, None, f"the judge answered with tool calls {calls}, not JSON", repr(calls),
                            source, "invalid")
    try:
        parsed = request.validate(raw, completion.finish_reason)
    except ReplyError as exc:
        return SampleResult(index, None, exc.message, raw, source, exc.kind)
    return SampleResult(index, parsed, None, raw, source)


def _litellm_supports_schema(model: str) -> bool:
    try:
        return bool(import_litellm().supports_response_schema(model=model))
    except Exception:
        return False
