"""The ``registry:`` section of goldband.yaml: the models the closed loop versions, gates and retrains.

::

    registry:
      artifacts: .goldband/artifacts          # default: beside the store
      models:
        churn:                                # a classic-ML model (the name its monitors use too)
          predict: examples.churn.model:predict    # (artifact path, frame) -> labels, scores or values
          task: classification
          eval: {path: data/holdout.csv, version: "2", label: churned, fresh: 500}
          gate:
            primary: roc_auc
            confidence: 0.9
            policy: superior                  # or non_inferior
            metrics:
              roc_auc: {floor: 0.70, min_improvement: 0.005}
              accuracy: {floor: 0.70, margin: 0.02}
          retrain:
            on: [concept_drift, performance]
            command: "python examples/churn/train.py --out {artifact_dir} --data {data_path} --since {data_since}"
            approval: auto                    # or manual: wait for goldband retrain approve ID
            cooldown: 7d
            timeout: 30m
        support:                              # an LLM model: versions are target configurations
          kind: llm
          target: support-v1                  # the goldband.yaml target its versions replace
          goldensets: [support]               # the gate's golden sets (default: those naming the target)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from goldband.clock import parse_duration
from goldband.config.base import Strict

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "TRIGGERS",
    "EvalSetConfig",
    "GateConfig",
    "MetricRuleConfig",
    "RegistryConfig",
    "RegistryModelConfig",
    "RetrainConfig",
]

# The gate's metrics, by the task they fit (goldband.registry.stats.METRICS computes them; a test keeps both equal)
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
MetricName = Literal["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "rmse", "mae", "r2"]

# What may trigger a retrain: the monitors' alert metrics, any other classic-ML alert (performance), and the
# LLM eval series' drift.
TRIGGERS = ("input_drift", "output_drift", "concept_drift", "performance", "eval_drift")
Trigger = Literal["input_drift", "output_drift", "concept_drift", "performance", "eval_drift"]


def _duration(value: str) -> str:
    parse_duration(value)  # raises ValueError with the expected format
    return value


class MetricRuleConfig(Strict):
    """One metric's rule in the gate (its good direction is the metric's own)."""

    floor: float | None = None  # the candidate must be at least (or, for a loss, at most) this
    margin: float = Field(0.0, ge=0)  # non-inferiority: the paired difference may be at worst -margin
    min_improvement: float = Field(0.0, ge=0)  # the primary metric: significantly better by at least this


class EvalSetConfig(Strict):
    """The versioned, labelled holdout both versions are evaluated on."""

    path: str  # CSV, JSON Lines or Parquet, relative to the project root
    version: str = "1"
    label: str = "label"  # the label column
    features: list[str] | None = None  # default: every column but the label and the id
    id: str | None = None  # an id column (kept out of the features)
    fresh: int = Field(0, ge=0)  # also the most recent labelled production predictions, up to this many


class GateConfig(Strict):
    primary: MetricName
    metrics: dict[MetricName, MetricRuleConfig]
    confidence: float = Field(0.9, gt=0.5, lt=1)
    policy: Literal["superior", "non_inferior"] = "superior"
    resamples: int = Field(2000, ge=100, le=100_000)  # paired bootstrap resamples
    seed: int = 0
    threshold: float = Field(0.5, gt=0, lt=1)  # scores above it are the positive class (label metrics)

    @model_validator(mode="after")
    def _primary_is_a_metric(self) -> GateConfig:
        if self.primary not in self.metrics:
            raise ValueError(f"primary metric {self.primary!r} is not among metrics: {', '.join(self.metrics)}")
        improving = [m for m, rule in self.metrics.items() if rule.min_improvement and m != self.primary]
        if improving:
            raise ValueError(f"min_improvement applies to the primary metric only ({self.primary}), not to "
                             f"{', '.join(improving)}: give the others a non-inferiority margin instead")
        return self


class RetrainConfig(Strict):
    """When and how to retrain: the alerts that trigger it, the training command, approval and cooldown."""

    on: list[Trigger] = Field(min_length=1)
    # a shell command; placeholders {python} {artifact_dir} {data_path} {data_since} {fresh_since} {model}
    # {request} {root}; an llm model's training writes {artifact_dir}/target.yaml (goldband.registry.candidates)
    command: str | None = None
    callable_: str | None = Field(None, alias="callable", pattern=r"^[\w.]+:[\w.]+$")
    approval: Literal["auto", "manual"] = "auto"
    cooldown: str = "7d"  # no new request within this time of the last one
    timeout: str = "1h"  # the training step is killed after this

    _durations = field_validator("cooldown", "timeout")(_duration)

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        """YAML 1.1 reads an unquoted ``on:`` key as ``true``: take it back as ``on``."""
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data

    @model_validator(mode="after")
    def _one_way_to_train(self) -> RetrainConfig:
        if (self.command is None) == (self.callable_ is None):
            raise ValueError("give exactly one of 'command' (a shell command) or 'callable' (module:function)")
        return self


class RegistryModelConfig(Strict):
    kind: Literal["classic", "llm"] = "classic"
    description: str | None = None
    predict: str | None = Field(None, pattern=r"^[\w.]+:[\w.]+$")  # classic: module:function
    task: Literal["classification", "regression"] = "classification"
    eval: EvalSetConfig | None = None
    gate: GateConfig | None = None
    target: str | None = None  # llm: the goldband.yaml target the model's versions replace
    goldensets: list[str] | None = None  # llm: the gate's golden sets
    runs: int = Field(20, ge=2, le=1000)  # llm: trials per case and side, fixed (the gate's test assumes a fixed n)
    alpha: float = Field(0.05, gt=0, lt=1)  # llm: false discovery rate of case-level regressions
    min_effect: float = Field(0.1, ge=0, le=1)  # llm: smallest pass-rate drop that counts as a regression
    retrain: RetrainConfig | None = None

    @model_validator(mode="after")
    def _kind_needs(self) -> RegistryModelConfig:
        if self.kind == "llm" and self.target is None:
            raise ValueError("an llm model needs 'target': the goldband.yaml target its versions replace")
        if self.kind == "classic" and self.gate is not None and (self.predict is None or self.eval is None):
            raise ValueError("a classic model's gate needs 'predict' (module:function) and 'eval' (the holdout)")
        fits = CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS
        misfits = [m for m in (self.gate.metrics if self.gate else ()) if m not in fits]
        if misfits:
            raise ValueError(f"not a {self.task} metric: {', '.join(misfits)}; a {self.task} gate uses "
                             f"{', '.join(fits)}")
        return self


class RegistryConfig(Strict):
    artifacts: str | None = None  # default: 'artifacts' beside the store
    models: dict[str, RegistryModelConfig] = Field(default_factory=dict)
