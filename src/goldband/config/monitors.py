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
          window: 500                # predictions per input-drift window, or a calendar period: 1d, 6h, 7d
          label_delay: 7d            # how long to wait for a prediction's label
          segments: [country]        # also test each window per value of these columns
          quality: {infer: true, rules: {age: {min: 0, max: 120}}}   # data-quality rules
      eval:
        metrics: {pass_rate: down, mean_score: down}   # the direction that is bad
        kinds: [nightly]
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from goldband.clock import parse_duration
from goldband.monitors import make_detector

__all__ = [
    "ColumnsConfig",
    "EvalMonitorConfig",
    "ModelMonitorConfig",
    "MonitorsConfig",
    "QualityConfig",
    "QualityRuleConfig",
]

FeatureKind = Literal["numeric", "categorical"]
NumericTest = Literal["ks", "psi", "wasserstein", "jensen_shannon"]
ConceptDetector = Literal["adwin", "ddm"]
Direction = Literal["up", "down"]
EstimatedMetric = Literal["accuracy", "f1", "roc_auc", "mae", "rmse"]
Multivariate = Literal["pca", "mmd", "off"]
EvalDetector = Literal["page_hinkley", "adwin"]
DEFAULT_MIN_EFFECT = {"ks": 0.1, "chi2": 0.1, "psi": 0.2, "wasserstein": 0.1, "jensen_shannon": 0.1}
MIN_WINDOW_ROWS, MAX_WINDOW_ROWS = 20, 10_000_000
MIN_PERIOD_S = 60.0
ROWS_FOR_PERIOD = 500  # a calendar-windowed model's count where a number of rows is needed (the concept monitor)


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


def _window(value: Any) -> int | str:
    """A count of predictions (an int, or digits) or a calendar period ('1d'): anything else is refused here."""
    expected = (f"a number of predictions ({MIN_WINDOW_ROWS:,} to {MAX_WINDOW_ROWS:,}) or a calendar period "
                "such as 1h, 6h, 1d or 7d")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected {expected}, found {value!r}")
    if isinstance(value, int):
        if not MIN_WINDOW_ROWS <= value <= MAX_WINDOW_ROWS:
            raise ValueError(f"expected {expected}, found {value:,}")
        return value
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise ValueError(f"expected {expected}, found {value!r}") from None
    if seconds < MIN_PERIOD_S:
        raise ValueError(f"a calendar window must last at least 1m, found {value!r}")
    return value.strip()


class QualityRuleConfig(_Strict):
    """Data-quality rules of one feature; ``tolerance`` is the share of rows that may break min/max/categories."""

    min: float | None = None
    max: float | None = None
    categories: list[str | int | bool] | None = None
    max_missing: float | None = Field(None, ge=0, le=1)  # the share of missing values allowed
    tolerance: float = Field(0.0, ge=0, lt=1)  # default 0: one row out of bounds is flagged (a hard constraint)

    @model_validator(mode="after")
    def _some_rule(self) -> QualityRuleConfig:
        if self.min is None and self.max is None and self.categories is None and self.max_missing is None:
            raise ValueError("give at least one of min, max, categories, max_missing")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        if self.categories is not None and (self.min is not None or self.max is not None):
            raise ValueError("categories are for a categorical feature, min/max for a numeric one: not both")
        if self.categories is not None and not self.categories:
            raise ValueError("categories is empty: list the allowed values")
        return self


class QualityConfig(_Strict):
    """Data-quality rules: declared per feature, and (``infer``) from the reference for every feature."""

    infer: bool = False
    rules: dict[str, QualityRuleConfig] = Field(default_factory=dict)
    infer_tolerance: float = Field(0.01, ge=0, lt=1)  # share beyond an inferred range / category set allowed
    infer_missing_margin: float = Field(0.05, ge=0, le=1)  # inferred max_missing: the reference's share + this
    infer_alpha: float = Field(0.001, gt=0, lt=1)  # an inferred rule breaks only when its count is this improbable


class ModelMonitorConfig(_Strict):
    """One deployed classic-ML model: its reference and how its drift is judged."""

    reference: str | None = None
    version: str = "1"
    task: Literal["classification", "regression"] = "classification"
    features: dict[str, FeatureKind] | None = None
    columns: ColumnsConfig = ColumnsConfig()
    window: int | str = 500  # predictions per window, or a calendar period (1h, 6h, 1d, 7d) aligned to UTC midnight
    window_grace: str = "1h"  # a calendar window is tested this long after its end (late-logged rows)
    min_window_rows: int = Field(30, ge=1)  # a calendar window with fewer rows is recorded as too small to test
    segments: list[str] = Field(default_factory=list)  # columns whose values are also tested one by one
    min_segment_rows: int = Field(50, ge=10)  # a segment with fewer rows (window or reference) is not tested
    quality: QualityConfig = QualityConfig()
    numeric_test: NumericTest = "ks"
    alpha: float = Field(0.05, gt=0, lt=1)
    min_effect: float | None = Field(None, ge=0)  # default: per test, DEFAULT_MIN_EFFECT
    min_drifted_features: int = Field(1, ge=1)
    bins: int = Field(10, ge=2, le=1000)
    exact_max_n: int = Field(1000, ge=0)  # exact KS p-values up to this sample size (slow beyond)
    low_confidence: float = Field(0.6, ge=0, le=1)
    collapse_share: float = Field(0.95, gt=0, le=1)
    label_delay: str = "7d"
    stable_windows: int = Field(3, ge=1)  # label windows with no detection that close a concept-drift incident
    multivariate: Multivariate = "pca"  # the joint input-drift test (docs/monitor.md, Multivariate drift)
    multivariate_min_effect: float | None = Field(None, ge=0)  # default per method: pca 0.04, mmd 0.002
    estimate: bool = True  # estimate performance without labels per window (CBPE, DLE: goldband.watch.estimate)
    estimate_metrics: list[EstimatedMetric] | None = None  # default: accuracy, f1, roc_auc | mae, rmse
    calibration_alpha: float = Field(0.05, gt=0, lt=1)  # recalibrate the reference's probabilities below this p
    estimate_k: float = Field(3.0, gt=0)  # an estimate outside reference mean -+ k sd is flagged
    min_labels: int = Field(100, ge=1)  # labels of a window (or all of a smaller one) before its error is known
    concept_detectors: dict[ConceptDetector, dict[str, Any]] = Field(default_factory=lambda: _detectors())

    _check_delay = field_validator("label_delay", "window_grace", mode="before")(_duration)
    _check_window = field_validator("window", mode="before")(_window)

    @field_validator("segments")
    @classmethod
    def _unique_segments(cls, value: list[str]) -> list[str]:
        twice = sorted({v for v in value if value.count(v) > 1})
        if twice:
            raise ValueError(f"segment columns must be unique (repeated: {', '.join(twice)})")
        return value

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

    @property
    def window_rows(self) -> int | None:
        """The window's size in predictions; None for a calendar window."""
        return self.window if isinstance(self.window, int) else None

    @property
    def window_period(self) -> float | None:
        """The calendar window's length in seconds; None for a window counted in predictions."""
        return None if isinstance(self.window, int) else parse_duration(self.window)

    @property
    def test_rows(self) -> int:
        """A number of predictions to test where one is needed: ``window``, or 500 for a calendar window."""
        return self.window if isinstance(self.window, int) else ROWS_FOR_PERIOD

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


class LlmJudgeConfig(_Strict):
    """The judge on a budgeted random sample of each window's traces (cached, fenced, fail-closed)."""

    rubric: str  # a rubric name (rubrics/NAME.yaml)
    sample: int = Field(20, ge=1)  # traces judged per window, drawn at random (seeded by the window)
    seed: int = 0


class LlmAppConfig(_Strict):
    """One LLM application whose production traces goldband logs and evaluates (docs/llm-monitoring.md)."""

    version: str | None = None  # the version traces are stored under when they carry none (name@alias resolved)
    redact: str | None = None  # module:function run on every trace before it is stored
    golden_set: str | None = None  # evaluate with the deterministic checks of this set's defaults ...
    checks: list[Any] | None = None  # ... or of this list (golden-set check syntax)
    judge: LlmJudgeConfig | None = None
    window: int = Field(200, ge=10)  # traces per evaluation window
    reference_windows: int = Field(3, ge=1)  # a version's first windows: the reference for output drift
    alpha: float = Field(0.05, gt=0, lt=1)
    min_effect: float = Field(0.1, ge=0)  # output drift: KS statistic, Cohen's h, Cramér's V at least this
    detectors: bool = True  # watch the window series with the eval detectors (monitors.eval.page_hinkley)
    embedding_model: str | None = None  # golden status: also compare inputs as embeddings (a litellm model)
    embedding_api_base: str | None = None
    embedding_api_key_env: str | None = None  # the environment variable holding its key (never the key)


class MonitorsConfig(_Strict):
    models: dict[str, ModelMonitorConfig] = Field(default_factory=dict)
    eval: EvalMonitorConfig = EvalMonitorConfig()
    llm: dict[str, LlmAppConfig] = Field(default_factory=dict)  # app name -> its production monitoring
