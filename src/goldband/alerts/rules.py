"""Observations, the events sinks receive, and how a rule reads an observation (pure, no I/O).

Every monitor reports what it saw as ``Observation``s, one per window or
point of a series (source, model, metric, labels): the value, whether the
monitor flagged it, which detector did, and one line saying what happened. A
rule (``goldband.config.alerts.RuleConfig``) picks the series it cares about
by source, model and metric globs, labels and detector, and decides per
observation *flagged* (the monitor flagged it, or the value crossed the
rule's ``above``/``below`` threshold) or *clean*. The engine turns runs of
flagged observations into incidents.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from goldband.config.alerts import SEVERITIES, RuleConfig
from goldband.store.models import labels_key

__all__ = ["AlertEvent", "Observation", "evaluate", "fingerprint", "matches", "plain", "severity_at_least"]


def _frozen(data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(data or {}))


class _Picklable:
    """Frozen dataclasses holding read-only mappings: pickle them as plain dicts."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        values = (getattr(self, name) for name in self.__dataclass_fields__)  # type: ignore[attr-defined]
        return type(self), tuple(dict(v) if isinstance(v, MappingProxyType) else v for v in values)


@dataclass(frozen=True)
class Observation(_Picklable):
    """One window (or point) of one series, as a monitor saw it."""

    source: str  # llm-eval | classic-ml
    model: str
    metric: str
    time: str  # the data's time (window end, run start)
    value: float | None
    flagged: bool
    labels: Mapping[str, Any] = field(default_factory=dict)
    detector: str | None = None
    summary: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen(self.labels))
        object.__setattr__(self, "details", _frozen(self.details))

    @property
    def series(self) -> str:
        """The series identity: source, model, metric and canonical labels (as the store keys series)."""
        return f"{self.source}|{self.model}|{self.metric}|{labels_key(dict(self.labels))}"


@dataclass(frozen=True)
class AlertEvent(_Picklable):
    """What a sink receives: one alert, frozen (sinks cannot change it for the next sink)."""

    id: int
    rule: str
    severity: str
    status: str
    source: str
    model: str
    metric: str
    summary: str
    opened_at: str
    time: str | None = None
    value: float | None = None
    detector: str | None = None
    labels: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    count: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen(self.labels))
        object.__setattr__(self, "details", _frozen(self.details))

    @property
    def text(self) -> str:
        """One line for people (and Slack's ``text`` field)."""
        where = self.model + (f" {dict(self.labels)}" if self.labels else "")
        if self.source == "registry":  # the closed loop's news (goldband.registry.loop.notify): no alert id
            return f"goldband {self.severity.upper()} registry [{self.metric}] {where}: {self.summary}"
        return f"goldband {self.severity.upper()} alert #{self.id} [{self.rule}] {where}: {self.summary}"

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["labels"], data["details"] = plain(self.labels), plain(self.details)
        if isinstance(self.value, float) and not math.isfinite(self.value):
            data["value"] = None
        return data


def plain(value: Any) -> Any:
    """``value`` as plain JSON data: mappings become dicts, sequences lists, NaN and infinities None."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def matches(rule: RuleConfig, obs: Observation) -> bool:
    """Whether ``rule`` watches ``obs``'s series."""
    if rule.source is not None and rule.source != obs.source:
        return False
    if not (fnmatch.fnmatchcase(obs.model, rule.model) and fnmatch.fnmatchcase(obs.metric, rule.metric)):
        return False
    return all(fnmatch.fnmatchcase(str(obs.labels.get(k, "")), v) for k, v in rule.labels.items())


def evaluate(rule: RuleConfig, obs: Observation) -> bool | None:
    """True (flagged), False (clean), or None (the rule does not apply, or the value is unknown)."""
    if not matches(rule, obs):
        return None
    if rule.above is not None or rule.below is not None:
        if obs.value is None or not math.isfinite(obs.value):
            return None
        return obs.value > rule.above if rule.above is not None else obs.value < float(rule.below or 0.0)
    if rule.detector is not None:
        return obs.flagged and obs.detector == rule.detector
    return obs.flagged


def fingerprint(rule: RuleConfig, obs: Observation) -> str:
    """One incident key per rule and series."""
    return f"{rule.name}|{obs.series}"


def severity_at_least(severity: str, floor: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(floor)
