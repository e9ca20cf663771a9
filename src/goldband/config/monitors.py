"""The ``monitors:`` section of goldband.yaml: classic-ML models to watch, and the eval-series watch.

Every knob has a default, so an empty section (or none) works: the LLM eval
series are watched, and a model is watched as soon as it has a reference::

    monitors:
      models:
        churn:
          reference: data/churn_reference.csv   # the training snapshot (CSV, JSONL or Parquet)
          version: "3"
          features: {tenure_months: numeric, contract: categorical}   # default: inferred
          columns: {prediction: predicted, label: churned}
          window: 500                # predictions per input-drift window
          label_delay: 7d            # how long to wait for a prediction's label
      eval:
        metrics: {pass_rate: down, mean_score: down}   # the direction that is bad
        kinds: [nightly]
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from goldband.clock import parse_duration
from goldband.monitors import make_detector

__all__ = ["ColumnsConfig", "EvalMonitorConfig", "ModelMonitorConfig", "MonitorsConfig"]

FeatureKind = Literal["numeric", "categorical"]
NumericTest = Literal["ks", "psi", "wasserstein", "jensen_shannon"]
ConceptDetector = Literal["adwin", "ddm"]
Direction = Literal["up", "down"]
EvalDetector = Literal["page_hinkley", "adwin"]
DEFAULT_MIN_EFFECT = {"ks": 0.1, "chi2": 0.1, "psi": 0.2, "wasserstein": 0.1, "jensen_shannon": 0.1}


def _detectors() -> dict[ConceptDetector, dict[str, Any]]:
    # ADWIN only: DDM's false-alarm rate on healthy models grows with stream length and
    # with falling error rates (docs/bench-concept.md); it stays available by name.
    # delta 0.0002, not river's 0.002: with 0.002 ADWIN alarmed on up to 27 % of healthy
    # streams of 1,000,000 labels; 0.0002 costs ~30 % more delay on a 0.05 -> 0.15 jump.
    return {"adwin": {"delta": 0.0002}}


def _directions() -> dict[str, Direction]:
    return {"pass_rate": "down", "mean_score": "down"}


def _eval_detectors() -> list[EvalDetector]:
    return ["page_hinkley"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _duration(value: Any) -> str:
    parse_duration(value)  # raises ValueError with the expected format
    return str(value)


class ColumnsConfig(_Strict):
    """Column names in reference and batch files (and keys in JSONL rows)."""

    id: str = "prediction_id"
    time: str = "time"
    prediction: str = "prediction"
    confidence: str = "confidence"
    proba_prefix: str = "proba_"  # proba_<class> columns: class probabilities
    label: str = "label"
    version: str = "version"

    def special(self) -> frozenset[str]:
        """Columns that are never features."""
        return frozenset({self.id, self.time, self.prediction, self.confidence, self.label, self.version})


class ModelMonitorConfig(_Strict):
    """One deployed classic-ML model: its reference and how its drift is judged."""

    reference: str | None = None
    version: str = "1"
    task: Literal["classification", "regression"] = "classification"
    features: dict[str, FeatureKind] | None = None
    columns: ColumnsConfig = ColumnsConfig()
    window: int = Field(500, ge=20, le=10_000_000)
    numeric_test: NumericTest = "ks"
    alpha: float = Field(0.05, gt=0, lt=1)
    min_effect: float | None = Field(None, ge=0)  # default: per test, DEFAULT_MIN_EFFECT
    min_drifted_features: int = Field(1, ge=1)
    bins: int = Field(10, ge=2, le=1000)
    exact_max_n: int = Field(1000, ge=0)  # exact KS p-values up to this sample size (slow beyond)
    low_confidence: float = Field(0.6, ge=0, le=1)
    collapse_share: float = Field(0.95, gt=0, le=1)
    label_delay: str = "7d"
    concept_detectors: dict[ConceptDetector, dict[str, Any]] = Field(default_factory=lambda: _detectors())

    _check_delay = field_validator("label_delay", mode="before")(_duration)

    @field_validator("concept_detectors")
    @classmethod
    def _detectors_build(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, params in value.items():
            try:
                make_detector(name, **params)
            except TypeError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _ddm_needs_classes(self) -> ModelMonitorConfig:
        if self.task == "regression" and "ddm" in self.concept_detectors:
            raise ValueError("ddm watches a 0/1 error stream: use it with task: classification, "
                             "or only adwin for regression")
        return self

    def effect_floor(self, test: str) -> float:
        """The minimum effect size for ``test``: ``min_effect`` when set, else the test's default."""
        return self.min_effect if self.min_effect is not None else DEFAULT_MIN_EFFECT[test]


class PageHinkleyEvalConfig(_Strict):
    """Page-Hinkley on eval series, scaled to each series' own night-to-night noise."""

    warmup: int = Field(10, ge=3)  # points used to measure the noise (sd) before watching
    threshold_sd: float = Field(12.0, gt=0)  # lambda, in warm-up standard deviations
    delta_sd: float = Field(0.5, ge=0)  # tolerated drift per point, in standard deviations
    min_sd: float = Field(0.005, gt=0)  # floor for the measured sd (a perfectly flat warm-up)


class EvalMonitorConfig(_Strict):
    """Streaming drift detection over the LLM eval series in the store."""

    enabled: bool = True
    metrics: dict[str, Direction] = Field(default_factory=lambda: _directions())
    kinds: list[str] = Field(default_factory=lambda: ["nightly"])
    detectors: list[EvalDetector] = Field(default_factory=lambda: _eval_detectors())
    page_hinkley: PageHinkleyEvalConfig = PageHinkleyEvalConfig()
    adwin: dict[str, Any] = Field(default_factory=lambda: {"clock": 1, "grace_period": 5,
                                                           "min_window_length": 3})

    @model_validator(mode="after")
    def _some_detector(self) -> EvalMonitorConfig:
        if not self.detectors:
            raise ValueError("give at least one detector (page_hinkley, adwin), or set enabled: false")
        return self


class MonitorsConfig(_Strict):
    models: dict[str, ModelMonitorConfig] = Field(default_factory=dict)
    eval: EvalMonitorConfig = EvalMonitorConfig()
