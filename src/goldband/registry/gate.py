"""The gate: may a candidate version replace the one serving? Decided on the same data for both, recorded.

``run_gate`` evaluates the candidate and the champion (the version ``against``
points at, normally ``production``) and stores the result in
``registry_gates``: every metric for both versions, the paired difference and
its interval, the test, the decision and its reasons in words. A candidate
that does not pass is parked with those reasons (``Registry.park``); it can
then serve only with ``--force``, which the event log records.

- *classic*: both versions' ``predict`` on the model's evaluation set
  (``goldband.registry.evaluation``), metrics by scikit-learn, the decision by
  ``goldband.registry.stats.decide`` with the example as the unit (exact
  McNemar for accuracy, a paired bootstrap for the rest). A first version (no
  champion) must clear the floors.
- *llm*: the golden sets on both targets in one engine (``goldband.registry.llm``).

A gate that cannot finish (a predict that raises, a missing eval set) is
recorded as ``failed`` with its error and decides nothing: never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from numbers import Real
from typing import Any

from goldband.clock import iso
from goldband.config.project import ProjectConfig
from goldband.config.registry import GateConfig, RegistryModelConfig
from goldband.errors import ConfigError, GoldbandError, RegistryError
from goldband.registry import stats
from goldband.registry.evaluation import EvalSet, load_eval_set, predict_with, predictions
from goldband.registry.llm import gate_settings, llm_gate
from goldband.registry.registry import PRODUCTION, Registry
from goldband.store import registry as db
from goldband.store.registry import GateRow, VersionRow
from goldband.watch.records import category_key

__all__ = ["GateOutcome", "park_reason", "run_gate"]


@dataclass(frozen=True)
class GateOutcome:
    """A recorded gate: its id, the decision and why."""

    id: int
    model: str
    candidate: str
    champion: str | None
    passed: bool
    reasons: tuple[str, ...]
    failures: tuple[str, ...]  # the reasons that blocked it (empty when it passed)
    metrics: dict[str, Any]


def run_gate(registry: Registry, config: ProjectConfig, name: str, candidate: str, *, against: str = PRODUCTION,
             mode: str | None = None, store: str | None = None, park: bool = True) -> GateOutcome:
    """Gate version ``candidate`` of ``name`` against what ``against`` points at; record it (and park a failure)."""
    model_config = _model_config(config, name)
    cand = registry.version(name, candidate)
    serving = registry.aliases(name).get(against)
    champion = registry.version(name, serving) if serving and serving != candidate else None
    gate_id = _start(registry, name, cand, champion, model_config)
    try:
        found = _evaluate(registry, model_config, cand, champion, mode, store)
    except GoldbandError as exc:
        _finish(registry, gate_id, "failed", None, [str(exc)], {}, {}, {"error": type(exc).__name__})
        raise _unfinished(gate_id, cand, exc) from None
    except BaseException as exc:  # a bug or an interrupt: the gate is still recorded as failed, never left running
        _finish(registry, gate_id, "failed", None, [f"{type(exc).__name__}: {exc}"], {}, {},
                {"error": type(exc).__name__})
        raise
    _finish(registry, gate_id, "complete", found.passed, list(found.reasons), found.metrics, found.eval_set,
            {"failures": list(found.failures)})
    if not found.passed and park:
        registry.park(name, candidate, reason=park_reason(found.failures), evidence={"gate": gate_id})
    return GateOutcome(gate_id, name, candidate, champion.version if champion else None, found.passed,
                       tuple(found.reasons), tuple(found.failures), found.metrics)


def _unfinished(gate_id: int, cand: VersionRow, exc: GoldbandError) -> RegistryError:
    """The error of a gate that could not finish: which gate of which version, the cause, what to do."""
    cause = f"{exc.where}: {exc.what}" if exc.where else exc.what
    again = f"then run `goldband gate {cand.model} {cand.version}` again"
    return RegistryError(f"gate #{gate_id} of {cand.ref} could not finish (recorded as failed; no alias moved): "
                         f"{cause}", expected=exc.expected,
                         fix=f"{exc.fix}; {again}" if exc.fix else f"correct the cause, {again}")


def park_reason(failures: Sequence[str]) -> str:
    """Why a candidate is parked: what blocked it at the gate."""
    return "gate: " + "; ".join(failures) if failures else "did not pass the gate"


@dataclass(frozen=True)
class _Found:
    passed: bool
    reasons: Sequence[str]
    failures: Sequence[str]
    metrics: dict[str, Any]
    eval_set: dict[str, Any]


def _model_config(config: ProjectConfig, name: str) -> RegistryModelConfig:
    found = config.registry.models.get(name)
    if found is None:
        raise ConfigError(f"model '{name}' has no gate configured", where="goldband.yaml (registry.models)",
                          expected=f"registry: models: {name}: ... with its gate (classic) or target (llm)",
                          fix="see README.md, 'The closed loop'")
    return found


def _start(registry: Registry, name: str, cand: VersionRow, champion: VersionRow | None,
           config: RegistryModelConfig) -> int:
    policy = config.gate.policy if config.gate else "no-regression"
    row = GateRow(name, cand.version, config.kind, "running", iso(registry.clock.now()),
                  champion=champion.version if champion else None, policy=policy, actor=registry.actor)
    with registry.store.transaction() as conn:
        return db.insert_gate(conn, row)


def _finish(registry: Registry, gate_id: int, status: str, passed: bool | None, reasons: list[str],
            metrics: dict[str, Any], eval_set: dict[str, Any], details: dict[str, Any]) -> None:
    decision = None if passed is None else ("pass" if passed else "fail")
    with registry.store.transaction() as conn:
        current = db.gate(conn, gate_id)
        assert current is not None
        db.finish_gate(conn, gate_id, replace(current, status=status, decision=decision, reasons=reasons,
                                              metrics=metrics, eval_set=eval_set, details=details,
                                              finished_at=iso(registry.clock.now())))


def _evaluate(registry: Registry, config: RegistryModelConfig, cand: VersionRow, champion: VersionRow | None,
              mode: str | None, store: str | None) -> _Found:
    if config.kind == "llm":
        settings = gate_settings(registry.root, mode=mode, runs=config.runs, store=store)
        result = llm_gate(settings, config, cand, champion)
        return _Found(result.passed, result.reasons, result.failures, result.metrics(),
                      {"goldensets": config.goldensets or "by target", "runs": config.runs})
    return _classic(registry, config, cand, champion)


# --------------------------------------------------------------------------- classic


def _classic(registry: Registry, config: RegistryModelConfig, cand: VersionRow, champion: VersionRow | None
             ) -> _Found:
    if config.gate is None or config.eval is None or config.predict is None:
        raise ConfigError(f"model '{cand.model}' has no gate", where="goldband.yaml (registry.models)",
                          expected="gate, eval and predict for a classic model")
    evalset = load_eval_set(config.eval, root=registry.root, store=registry.store, model=cand.model)
    predict = predict_with(config.predict, registry.root)
    truth = _truth(evalset.labels, config.task)
    ours = _outputs(predictions(predict, cand.ref, registry.resolve(cand.ref).path, evalset), config, truth)
    if champion is None:
        return _floors_only(config.gate, truth, ours, evalset)
    theirs = _outputs(predictions(predict, champion.ref, registry.resolve(champion.ref).path, evalset), config,
                      truth)
    results = [_paired(config.gate, metric, truth, ours, theirs) for metric in config.gate.metrics]
    rules = [stats.MetricRule(m, r.floor, r.margin, r.min_improvement) for m, r in config.gate.metrics.items()]
    decision = stats.decide(results, rules, primary=config.gate.primary, policy=config.gate.policy)
    metrics = {r.metric: _result_json(r) for r in results}
    return _Found(decision.passed, decision.reasons, decision.failures, metrics, evalset.source)


@dataclass(frozen=True)
class _Outputs:
    """One version's predictions in the shapes the metrics need."""

    labels: Any  # class labels (numbers or category keys), or regression values
    scores: Any | None  # the positive class's probability (binary), when predict returned probabilities


def _truth(labels: list[Any], task: str) -> Any:
    import numpy as np

    if task == "regression":
        return np.asarray([_label_number(y, row) for row, y in enumerate(labels, start=1)])
    keys = [category_key(y) for y in labels]
    numbers = _integers(keys)
    return np.asarray(numbers if numbers is not None else keys)


def _label_number(value: Any, row: int) -> float:
    try:
        found = float(value)
    except (TypeError, ValueError):
        raise RegistryError(f"the label of example {row} is {value!r}, not a number", where="registry gate eval set",
                            expected="a numeric label in every row for a regression model",
                            fix="correct the label, or set task: classification") from None
    return found


def _integers(keys: list[str | None]) -> list[int] | None:
    """The keys as integers when every one is an integer ("0", "1", 2.0 -> 0, 1, 2), else None."""
    if not all(k is not None and k.lstrip("-").isdigit() for k in keys):
        return None
    return [int(k or 0) for k in keys]


def _outputs(values: list[Any], config: RegistryModelConfig, truth: Any) -> _Outputs:
    import numpy as np

    if config.task == "regression":
        return _Outputs(np.asarray([_number(v) for v in values]), None)
    reals = [float(v) for v in values if isinstance(v, Real) and not isinstance(v, bool)]  # numpy's too
    if any(math.isnan(v) for v in reals):
        raise RegistryError("predict returned NaN", where="registry gate",
                            expected="a class label or a probability of the positive class per row")
    probabilities = len(reals) == len(values) and all(0.0 <= v <= 1.0 for v in reals) and any(
        v not in (0.0, 1.0) for v in reals)
    threshold = config.gate.threshold if config.gate else 0.5
    if probabilities:
        scores = np.asarray(reals, dtype=float)
        return _Outputs((scores >= threshold).astype(int), scores)
    keys = [category_key(v) for v in values]
    classes = _integers(keys) if truth.dtype.kind in "iu" else None
    return _Outputs(np.asarray(classes if classes is not None else keys), None)


def _number(value: Any) -> float:
    try:
        found = float(value)
    except (TypeError, ValueError):
        raise RegistryError(f"predict returned {value!r} for a regression model", where="registry gate",
                            expected="one number per row") from None
    if math.isnan(found):
        raise RegistryError("predict returned NaN", where="registry gate", expected="one number per row")
    return found


def _inputs(spec: stats.MetricSpec, outputs: _Outputs) -> Any:
    if spec.needs in ("scores", "probabilities"):
        if outputs.scores is None:
            raise RegistryError(f"metric {spec.name} needs probabilities of the positive class, but predict "
                                "returned labels", where="registry gate", fix="return P(class 1) from predict, "
                                "or gate on label metrics (accuracy, f1, precision, recall)")
        return outputs.scores
    return outputs.labels


def _paired(gate: GateConfig, metric: str, truth: Any, ours: _Outputs, theirs: _Outputs) -> stats.PairedResult:
    spec = stats.metric_spec(metric)
    if metric == "accuracy":
        return stats.mcnemar_exact(ours.labels == truth, theirs.labels == truth, confidence=gate.confidence)
    try:
        return stats.paired_bootstrap(spec, truth, _inputs(spec, ours), _inputs(spec, theirs),
                                      confidence=gate.confidence, n_resamples=gate.resamples, seed=gate.seed)
    except ValueError as exc:
        raise RegistryError(f"metric {metric} cannot be computed on this evaluation set: {exc}",
                            where="registry gate") from None


def _floors_only(gate: GateConfig, truth: Any, ours: _Outputs, evalset: EvalSet) -> _Found:
    """A first version has nothing to beat: it must clear every floor."""
    reasons: list[str] = []
    failures: list[str] = []
    metrics: dict[str, Any] = {}
    for metric, rule in gate.metrics.items():
        spec = stats.metric_spec(metric)
        value = _value(spec, truth, _inputs(spec, ours))
        metrics[metric] = {"candidate": value, "better": spec.better}
        if rule.floor is None:
            reasons.append(f"{metric}: candidate {value:.3g} (no floor; nothing serves to compare with)")
            continue
        ok, sentence = stats.floor_check(metric, spec.better, value, rule.floor)
        reasons.append(sentence)
        failures += [] if ok else [sentence]
    reasons.append(f"first version: no champion to beat; {evalset.rows} evaluation rows")
    return _Found(not failures, reasons, failures, metrics, evalset.source)


def _value(spec: stats.MetricSpec, truth: Any, predicted: Any) -> float:
    try:
        return spec(truth, predicted)
    except ValueError as exc:
        raise RegistryError(f"metric {spec.name} cannot be computed on this evaluation set: {exc}",
                            where="registry gate") from None


def _result_json(result: stats.PairedResult) -> dict[str, Any]:
    """What the gate stores of one metric's comparison (keyed by the metric already)."""
    return {k: v for k, v in asdict(result).items() if k != "metric"}

