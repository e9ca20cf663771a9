"""The ``alerts:`` section of goldband.yaml: rules (what fires, how loud) and sinks (where it goes).

::

    alerts:
      cooldown: 24h                 # default for every rule
      rules:
        - name: churn-inputs
          model: churn              # glob; default "*"
          metric: input_drift       # glob over series names; see docs/monitor.md
          severity: warning         # info | warning | critical
          sustained: 2              # flagged in 2 consecutive windows before it fires
        - name: support-pass-rate-floor
          source: llm-eval
          metric: pass_rate
          below: 0.8                # a threshold rule: the series value itself
          severity: critical
      sinks:
        - {type: log}
        - {type: jsonl, path: .goldband/alerts.jsonl}
        - {type: webhook, url_env: SLACK_WEBHOOK_URL, min_severity: critical}

Without ``rules:`` goldband uses ``DEFAULT_RULES``; without ``sinks:`` alerts go
to the terminal only. Alerts are always stored (``goldband alerts list``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from goldband.clock import parse_duration

__all__ = ["DEFAULT_RULES", "SEVERITIES", "AlertsConfig", "RuleConfig", "SinkConfig"]

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _duration(value: Any) -> Any:
    if value is not None:
        parse_duration(value)
    return value


class RuleConfig(_Strict):
    """Which series (or detector) to watch, when it counts as flagged, and how loud to be."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    source: Literal["llm-eval", "llm-prod", "classic-ml"] | None = None
    model: str = "*"
    metric: str = "*"
    detector: str | None = None  # only flags raised by this detector (adwin, ddm, ks, page_hinkley, ...)
    labels: dict[str, str] = Field(default_factory=dict)  # every key must match (glob values)
    above: float | None = None  # threshold rule: flagged when the value is above ...
    below: float | None = None  # ... or below this
    severity: Severity = "warning"
    sustained: int = Field(1, ge=1, le=1000)  # consecutive flagged windows before firing
    resolve_after: int = Field(1, ge=1, le=1000)  # consecutive clean windows that resolve it
    cooldown: str | None = None  # default: alerts.cooldown

    _check_cooldown = field_validator("cooldown", mode="before")(_duration)

    @model_validator(mode="after")
    def _one_threshold(self) -> RuleConfig:
        if self.above is not None and self.below is not None:
            raise ValueError("give 'above' or 'below', not both (write two rules)")
        return self


class LogSinkConfig(_Strict):
    type: Literal["log"]
    name: str | None = None
    min_severity: Severity = "info"


class JsonlSinkConfig(_Strict):
    type: Literal["jsonl"]
    path: str
    name: str | None = None
    min_severity: Severity = "info"


class WebhookSinkConfig(_Strict):
    type: Literal["webhook"]
    url: str | None = Field(None, pattern=r"^https?://")
    url_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # the variable's NAME
    timeout_s: float = Field(5.0, gt=0, le=120)
    retries: int = Field(1, ge=0, le=10)
    max_attempts: int = Field(3, ge=1, le=100)  # delivery attempts across runs before giving up
    name: str | None = None
    min_severity: Severity = "info"

    @model_validator(mode="after")
    def _one_url(self) -> WebhookSinkConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of 'url' or 'url_env' (the environment variable holding it)")
        return self


SinkConfig = Annotated[LogSinkConfig | JsonlSinkConfig | WebhookSinkConfig, Field(discriminator="type")]


DEFAULT_RULES: tuple[RuleConfig, ...] = (
    RuleConfig(name="input-drift", source="classic-ml", metric="input_drift", severity="warning"),
    RuleConfig(name="output-drift", source="classic-ml", metric="output_drift", severity="warning"),
    RuleConfig(name="concept-drift", source="classic-ml", metric="concept_drift", severity="critical"),
    RuleConfig(name="data-quality", source="classic-ml", metric="data_quality", severity="warning"),
    RuleConfig(name="estimated-performance", source="classic-ml", metric="estimated_*", severity="warning"),
    RuleConfig(name="eval-drift", source="llm-eval", metric="*", severity="critical"),
    RuleConfig(name="llm-production", source="llm-prod", metric="*", severity="warning"),
)


def _log_sink() -> LogSinkConfig | JsonlSinkConfig | WebhookSinkConfig:
    return LogSinkConfig(type="log")


class AlertsConfig(_Strict):
    cooldown: str = "24h"
    rules: list[RuleConfig] | None = None  # None: DEFAULT_RULES
    sinks: list[SinkConfig] = Field(default_factory=lambda: [_log_sink()])

    _check_cooldown = field_validator("cooldown", mode="before")(_duration)

    @model_validator(mode="after")
    def _unique_names(self) -> AlertsConfig:
        for what, names in (("rule", [r.name for r in self.rules or ()]),
                            ("sink", [s.name for s in self.sinks if s.name])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{what} names must be unique (repeated: {', '.join(twice)})")
        return self

    def effective_rules(self) -> tuple[RuleConfig, ...]:
        return DEFAULT_RULES if self.rules is None else tuple(self.rules)
