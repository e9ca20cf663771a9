"""Plain data shared by every step of the flow: completions, trials, scores, verdicts.

An *error* is a third outcome beside pass and fail: a provider failure, a
timeout, a malformed reply or a check that could not be evaluated. It is kept
with its evidence and never counted as a pass.

This module imports nothing of goldband: the engine, the checks, the bands, the
store and the reports all speak in these types, so it sits below all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

Outcome = Literal["pass", "fail", "error"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] | str  # parsed JSON, or the raw text when it is not JSON


@dataclass(frozen=True, slots=True)
class Completion:
    """One sample returned by a provider (or a cassette, or a callable target)."""

    output: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    system_fingerprint: str | None = None
    finish_reason: str | None = None
    latency_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__slots__ if k != "tool_calls"}
        data["tool_calls"] = [{"name": t.name, "arguments": t.arguments} for t in self.tool_calls]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Completion:
        calls = tuple(ToolCall(c["name"], c.get("arguments", {})) for c in data.get("tool_calls") or ())
        fields = {k: data.get(k) for k in cls.__slots__ if k != "tool_calls"}
        return cls(tool_calls=calls, **fields)


@dataclass(frozen=True, slots=True)
class Trial:
    """One execution of one case on one target (sample index ``sample``)."""

    case_id: str
    target: str
    sample: int
    completion: Completion | None
    error: str | None = None  # "kind: message" when the call failed
    error_kind: str | None = None  # timeout, rate_limit, http, connection, malformed, ...
    cached: bool = False  # served from a cassette or the cache, not a live call
    attempts: int = 1

    @property
    def output(self) -> str | None:
        return self.completion.output if self.completion else None

    @property
    def latency_ms(self) -> float | None:
        return self.completion.latency_ms if self.completion else None


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of a conversation trial (a case with ``turns:``): the messages sent, ending with user turn
    ``index`` (earlier turns and the model's own replies before it), and the reply or the error that ended it."""

    index: int  # 1-based, as shown: "turn 2"
    messages: tuple[dict[str, Any], ...]
    completion: Completion | None
    error: str | None = None
    error_kind: str | None = None
    cached: bool = False
    attempts: int = 1

    @property
    def output(self) -> str | None:
        return self.completion.output if self.completion else None

    def as_trial(self, trial: Trial) -> Trial:
        """This turn's reply as a trial of ``trial``'s case and sample, for checks to score."""
        return Trial(trial.case_id, trial.target, trial.sample, self.completion, self.error, self.error_kind,
                     self.cached, self.attempts)


@dataclass(frozen=True, slots=True)
class ConversationTrial(Trial):
    """One sample of a conversation case: the final reply as the completion, and every turn
    (``goldband.engine.conversation`` makes them; the store keeps the turns apart)."""

    turns: tuple[Turn, ...] = ()
    tools: tuple[Any, ...] | None = None  # the tool definitions offered with every turn (the target's params)


@dataclass(frozen=True, slots=True)
class Score:
    """One check's (or rubric's) result on one trial."""

    check: str  # the display label, e.g. 'contains "30 days"'
    outcome: Outcome
    score: float  # in [0, 1]; 0.0 for an error
    detail: str = ""
    evidence: str | None = None  # raw judge reply, traceback summary, ...
    kind: str = "check"  # check | rubric | rubric-criterion
    gating: bool = True  # False: reported, never decides the trial (per-criterion, uncalibrated rubric)
    meta: dict[str, Any] | None = None  # e.g. a judge score's rubric hash, judge config, criteria


@dataclass(frozen=True, slots=True)
class ScoredTrial:
    trial: Trial
    scores: tuple[Score, ...] = field(default_factory=tuple)

    @property
    def gating_scores(self) -> tuple[Score, ...]:
        """The scores that decide the trial; non-gating ones are only reported."""
        return tuple(s for s in self.scores if s.gating)

    @property
    def outcome(self) -> Outcome:
        """error if the call or a gating check errored, else fail if a gating check failed, else pass.
        One pass over the scores: reports ask every trial for it several times."""
        if self.trial.error is not None:
            return "error"
        found: Outcome = "pass"
        for s in self.scores:
            if s.gating and s.outcome != "pass":
                if s.outcome == "error":
                    return "error"
                found = "fail"
        return found

    @property
    def score(self) -> float | None:
        """Mean of the gating check scores; None for an errored trial or no checks."""
        if self.trial.error is not None:
            return None
        total, count = 0.0, 0
        for s in self.scores:
            if s.gating:
                if s.outcome == "error":
                    return None
                total, count = total + s.score, count + 1
        return total / count if count else None

    @property
    def failed_checks(self) -> tuple[Score, ...]:
        return tuple(s for s in self.gating_scores if s.outcome != "pass")


# --------------------------------------------------------------------------- verdicts

Status = Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR", "QUARANTINED"]
STATUSES: tuple[Status, ...] = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR", "QUARANTINED")


@dataclass(frozen=True)
class BaselineDelta:
    """This case against its baseline (the case is the unit)."""

    outcome: Literal["regressed", "improved", "not significant", "same content", "new", "removed"]
    baseline_run: str | None = None
    delta: float | None = None  # head pass rate minus base pass rate
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None  # Benjamini-Hochberg across cases


@dataclass(frozen=True)
class Verdict:
    status: Status
    n: int
    passes: int
    fails: int
    errors: int
    reason: str  # the rule that decided, e.g. "pass rate [0.41, 0.86] straddles min_pass_rate 0.8"
    mean_score: float | None = None
    bound: str | None = None  # which rule decided: pass_rate.low, sprt.pass, score.high, error_rate, ...
    pass_rate_low: float | None = None
    pass_rate_high: float | None = None
    confidence: float | None = None
    score_low: float | None = None
    score_high: float | None = None
    std: float | None = None
    runs_planned: int | None = None  # the most runs the case could have used
    baseline: BaselineDelta | None = None
    gating: bool = True  # False: reported but never fails the run (quarantine, uncalibrated judge)
    notes: tuple[str, ...] = ()

    @property
    def pass_rate(self) -> float | None:
        """Passes over scored trials (errors are gated separately); None when none was scored."""
        scored = self.passes + self.fails
        return self.passes / scored if scored else None

    def to_json(self) -> dict[str, Any]:
        """The fields as plain JSON values (``asdict``'s, built directly: report.json writes one per case)."""
        data = {name: getattr(self, name) for name in _VERDICT_FIELDS}
        data["baseline"] = None if self.baseline is None else vars(self.baseline).copy()
        data["notes"] = list(self.notes)
        data["pass_rate"] = self.pass_rate
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        """Rebuild a verdict from ``to_json`` (e.g. stored); fields unknown to this version are dropped."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("baseline"), dict):
            base_known = {f.name for f in fields(BaselineDelta)}
            values["baseline"] = BaselineDelta(**{k: v for k, v in values["baseline"].items() if k in base_known})
        values["notes"] = tuple(values.get("notes") or ())
        values["gating"] = bool(values.get("gating", True))
        return cls(**values)


_VERDICT_FIELDS = tuple(f.name for f in fields(Verdict))
