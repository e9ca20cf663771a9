"""The gate on real stores, real predict callables and the bundled golden set: who may serve, and why not.

Classic: the example churn model (``tests/registrykit.py``) on a 300-row holdout after the concept shift;
a first version must clear the floors, a later one must beat the version serving now, a failure is
parked with its reasons in words, and a gate that cannot finish is recorded ``failed`` and changes no
alias. LLM: ``goldband gate`` runs the demo project's golden set offline from its cassettes, and a
``registry: model@alias`` target runs exactly the configuration the registry stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import goldband
from goldband.errors import ConfigError, UsageError
from goldband.registry.gate import run_gate
from registrykit import (
    GATE,
    backend,
    churn_project,
    cli,
    config,
    events,
    fit,
    gate_rows,
    loop_state,
    ok,
    query,
    refused,
    register,
    registry,
    serving,
    serving_v1,
    set_yaml,
    store_path,
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_at: str) -> Path:
    return churn_project(tmp_path, monkeypatch, store=backend(store_at))


def parked(root: Path, version: str) -> str | None:
    with registry(root) as reg:
        return reg.parked("churn", version)


# --------------------------------------------------------------------------- classic: deciding


def test_a_first_version_must_clear_every_floor(project: Path) -> None:
    fit(project, "bad", "data/changed.csv", shuffle=True)
    with registry(project) as reg:
        bad = reg.register("churn", artifact=project / "out" / "bad").version
        outcome = run_gate(reg, config(project), "churn", bad)
    assert not outcome.passed and outcome.champion is None
    assert outcome.failures == ("roc_auc: candidate 0.55 is below the floor 0.6",)
    assert "accuracy: candidate 0.633 clears the floor 0.6" in outcome.reasons
    assert outcome.reasons[-1] == "first version: no champion to beat; 300 evaluation rows"
    assert parked(project, bad) == "gate: roc_auc: candidate 0.55 is below the floor 0.6"
    assert "is parked" in refused(2, "registry", "promote", "churn", bad, "--reason", "try")
    good = register(project, "v1")
    assert ok("gate", "churn", good).splitlines()[0] == (
        f"gate #2: churn:{good} against nothing (the first version): PASSED")
    ok("registry", "promote", "churn", good, "--reason", "first")
    assert serving(project) == good


def test_a_better_candidate_passes_and_only_then_may_serve(project: Path) -> None:
    serving_v1(project)
    candidate = register(project, "v2")
    early = refused(2, "registry", "promote", "churn", candidate, "--reason", "early")
    assert "has no passing gate against version 1" in early
    out = ok("gate", "churn", candidate)
    assert out.splitlines()[0] == "gate #2: churn:2 against churn:1: PASSED"
    assert re.search(r"roc_auc: candidate 0\.819 vs champion 0\.722, \+0\.0965 \[\+0\.\d+, \+0\.\d+\] at 90%: "
                     r"significantly better \(one-sided p [\d.e-]+, min improvement 0\)", out), out
    assert "log_loss: candidate 0.499 vs champion 0.689 (lower is better)" in out
    ok("registry", "promote", "churn", candidate, "--reason", "beat churn:1")
    assert serving(project) == "2"
    promoted = events(project, "promote")[-1]
    assert promoted["evidence"]["gate"] == 2 and not promoted["forced"]


def test_the_gate_row_holds_both_versions_metrics_intervals_and_tests(project: Path) -> None:
    serving_v1(project)
    run_gate_cli = ok("gate", "churn", register(project, "v2"), "--json")
    outcome = json.loads(run_gate_cli)
    row = gate_rows(project)[-1]
    assert (row["id"], row["candidate"], row["champion"], row["kind"]) == (outcome["id"], "2", "1", "classic")
    assert (row["status"], row["decision"], row["policy"]) == ("complete", "pass", "superior")
    assert row["finished_at"] and row["reasons"] == outcome["reasons"] and row["details"] == {"failures": []}
    assert set(row["metrics"]) == {"roc_auc", "accuracy", "log_loss"}
    tests = {m: r["test"] for m, r in row["metrics"].items()}
    assert tests == {"roc_auc": "paired-bootstrap", "accuracy": "mcnemar-exact", "log_loss": "paired-bootstrap"}
    for metric, result in row["metrics"].items():
        assert result["n"] == 300 and result["confidence"] == 0.9, metric
        assert result["low"] <= result["delta"] <= result["high"], metric
        assert result["candidate"] != result["champion"], metric
    assert row["metrics"]["log_loss"]["better"] == "lower" and row["metrics"]["log_loss"]["delta"] > 0
    assert row["eval_set"]["path"] == "data/holdout.csv" and row["eval_set"]["version"] == "1"
    assert row["eval_set"]["rows"] == 300 and len(row["eval_set"]["sha256"]) == 64
    assert outcome["metrics"] == row["metrics"] and outcome["passed"] is True and outcome["failures"] == []


def test_an_equal_candidate_fails_under_superior_and_passes_under_non_inferior(project: Path) -> None:
    serving_v1(project)
    same = register(project, "v1")  # the same weights again: every prediction equal
    assert ok("gate", "churn", same, status=1).splitlines()[0] == "gate #2: churn:2 against churn:1: FAILED (parked)"
    reason = parked(project, same)
    assert reason == ("gate: roc_auc: candidate 0.722 vs champion 0.722, +0 [+0, +0] at 90%: not significantly "
                      "better (p 1 > 0.05; lower bound +0 <= min improvement 0)")
    assert events(project, "park")[-1]["evidence"] == {"gate": 2}
    assert serving(project) == "1"
    set_yaml(project, gate=GATE + "        policy: non_inferior\n")
    again = register(project, "v1")
    outcome = json.loads(ok("gate", "churn", again, "--json"))
    assert outcome["passed"] and "roc_auc: candidate 0.722 vs champion 0.722, +0 [+0, +0] at 90%: non-inferior " \
                                  "(margin 0)" in outcome["reasons"]
    assert parked(project, again) is None


FLOAT32 = ("import numpy as np\n\nfrom examples.churn.model import predict as churn\n\n\n"
           "def predict(artifact, frame):\n    return np.asarray(churn(artifact, frame), dtype=np.float32)\n")


def test_numpy_probabilities_are_probabilities(project: Path) -> None:
    (project / "float32.py").write_text(FLOAT32)
    set_yaml(project, predict="float32:predict")
    serving_v1(project)
    outcome = json.loads(ok("gate", "churn", register(project, "v2"), "--json"))
    assert outcome["passed"] and outcome["reasons"][0] == "roc_auc: candidate 0.819 clears the floor 0.6"
    assert round(outcome["metrics"]["accuracy"]["candidate"], 3) == 0.743


REGRESSION = '''\
import json
from pathlib import Path


def predict(artifact, frame):
    slope = json.loads((Path(artifact) / "coef.json").read_text())["slope"]
    return [slope * float(x) for x in frame["x"]]
'''


def test_a_regression_model_is_gated_on_rmse_and_mae(project: Path) -> None:
    rng = np.random.default_rng(5)
    xs = rng.uniform(0, 1, 200)
    lines = ["x,y"] + [f"{x:.4f},{2 * x + rng.normal(0, 0.1):.4f}" for x in xs]
    (project / "data" / "sales.csv").write_text("\n".join(lines) + "\n")
    (project / "linear.py").write_text(REGRESSION)
    for name, slope in (("s15", 1.5), ("s20", 2.0), ("s10", 1.0)):
        (project / "out" / name).mkdir(parents=True)
        (project / "out" / name / "coef.json").write_text(json.dumps({"slope": slope}))
    store = f"store: {store_path(project)}"  # the project's store, on either backend
    (project / "goldband.yaml").write_text(
        f"{store}\nregistry:\n  models:\n    sales:\n      predict: linear:predict\n      task: regression\n"
        "      eval: {path: data/sales.csv, label: y}\n      gate:\n        primary: rmse\n"
        "        metrics: {rmse: {floor: 0.5}, mae: {margin: 0.01}}\n")
    with registry(project) as reg:
        versions = {n: reg.register("sales", artifact=project / "out" / n).version for n in ("s15", "s20", "s10")}
        first = run_gate(reg, config(project), "sales", versions["s15"])
        assert first.passed and re.fullmatch(r"rmse: candidate 0\.\d+ clears the floor 0\.5", first.reasons[0])
        reg.promote("sales", versions["s15"], reason="first")
        better = run_gate(reg, config(project), "sales", versions["s20"])
        worse = run_gate(reg, config(project), "sales", versions["s10"])
    assert better.passed, better.reasons
    assert better.metrics["rmse"]["better"] == "lower" and better.metrics["rmse"]["delta"] > 0.15
    assert better.metrics["mae"]["test"] == "paired-bootstrap"
    assert not worse.passed and [f.split(",")[0] for f in worse.failures] == [
        "rmse: candidate 0.573 is above the floor 0.5", "rmse: candidate 0.573 vs champion 0.296 (lower is better)",
        "mae: candidate 0.495 vs champion 0.253 (lower is better)"]
    assert worse.failures[2].endswith("may be worse by more than the margin 0.01 (lower bound -0.26 < -0.01)")


# --------------------------------------------------------------------------- classic: a gate that cannot finish


def _write(path: str, text: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / path).write_text(text)
    return apply


def _yaml(**changes: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        set_yaml(root, **changes)
    return apply


def _both(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        for step in steps:
            step(root)
    return apply


def _unlabel(root: Path) -> None:
    path = root / "data" / "holdout.csv"
    lines = path.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ","
    path.write_text("\n".join(lines) + "\n")


def _text_label(root: Path) -> None:
    path = root / "data" / "holdout.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",yes"
    path.write_text("\n".join(lines) + "\n")


RAISES = "def predict(artifact, frame):\n    raise ValueError('weights.json is corrupt')\n"
SHORT = "def predict(artifact, frame):\n    return [0.5] * (len(frame['contract']) - 1)\n"
LABELS = ("from examples.churn.model import predict as churn\n\n\ndef predict(artifact, frame):\n"
          "    return [int(p >= 0.5) for p in churn(artifact, frame)]\n")
NAN = "def predict(artifact, frame):\n    return [float('nan')] * len(frame['contract'])\n"
REGRESSION_GATE = "      task: regression\n      gate:\n        primary: rmse\n        metrics: {rmse: {}}\n"

CANNOT_FINISH = {
    "predict raises": (_both(_write("broken.py", RAISES), _yaml(predict="broken:predict")),
                       "churn:2 (predict): predict raised ValueError: weights.json is corrupt"),
    "predict miscounts": (_both(_write("short.py", SHORT), _yaml(predict="short:predict")),
                          "churn:2 (predict): predict returned 299 predictions for 300 rows"),
    "missing eval file": (_yaml(eval_path="data/gone.csv"), "data/gone.csv: no such file"),
    "row without a label": (_unlabel, "holdout.csv:6: row has no label in column 'label'"),
    "predict returns NaN": (_both(_write("nan.py", NAN), _yaml(predict="nan:predict")),
                            "registry gate: predict returned NaN"),
    "labels for a score metric": (_both(_write("labels.py", LABELS), _yaml(predict="labels:predict")),
                                  "metric roc_auc needs probabilities of the positive class, but predict returned "
                                  "labels"),
    "a label that is not a number": (_both(_text_label, _yaml(gate=REGRESSION_GATE)), "'yes'"),
}


@pytest.mark.parametrize(("gate", "message"), [
    (GATE.replace("log_loss:", "f_1:"), "registry.models.churn.gate.metrics.f_1"),
    (GATE.replace("log_loss:", "rmse:"), "not a classification metric: rmse"),
    (GATE.replace("log_loss: {margin: 0.02}", "log_loss: {min_improvement: 0.01}"),
     "min_improvement applies to the primary metric only (roc_auc), not to log_loss"),
])
def test_a_gate_configuration_goldband_cannot_compute_is_refused_when_goldband_yaml_loads(
        project: Path, gate: str, message: str) -> None:
    """An unknown metric, one that does not fit the task, or a secondary min_improvement: goldband.yaml:LINE, before
    any version is registered or gated."""
    _yaml(gate=gate)(project)
    line = refused(2, "gate", "churn", "1")
    assert line.startswith("Error: goldband.yaml:") and message in line, line


@pytest.mark.parametrize("case", list(CANNOT_FINISH))
def test_a_gate_that_cannot_finish_is_recorded_failed_and_changes_nothing(project: Path, case: str) -> None:
    serving_v1(project)
    candidate = register(project, "v2")
    breakage, message = CANNOT_FINISH[case]
    breakage(project)
    before = loop_state(project)
    line = refused(2, "gate", "churn", candidate)
    assert message in line, line
    assert "gate #2 of churn:2 could not finish" in line and "fix: " in line, line
    with registry(project) as reg, pytest.raises(UsageError, match="gate #3 of churn:2 could not finish"):
        run_gate(reg, config(project), "churn", candidate)
    assert loop_state(project) == before  # no alias moved, nothing parked, no event
    failed = gate_rows(project)[1:]
    assert [(g["status"], g["decision"]) for g in failed] == [("failed", None), ("failed", None)]
    assert message in failed[0]["reasons"][0] and failed[0]["finished_at"]
    assert parked(project, candidate) is None


def test_a_first_gate_on_a_one_class_holdout_is_a_clear_error(project: Path) -> None:
    path = project / "data" / "holdout.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0]] + [line.rsplit(",", 1)[0] + ",1" for line in lines[1:]]) + "\n")
    number = register(project, "v1")
    line = refused(2, "gate", "churn", number)
    assert "gate #1 of churn:1 could not finish" in line and "roc_auc" in line, line
    assert [(g["status"], g["decision"]) for g in gate_rows(project)] == [("failed", None)]


def test_the_gate_refuses_an_unknown_model_or_version_before_recording_anything(project: Path) -> None:
    serving_v1(project)
    assert refused(2, "gate", "nope", "1").startswith(
        "Error: goldband.yaml (registry.models): model 'nope' has no gate configured")
    assert "model 'churn' has no version '7'" in refused(2, "gate", "churn", "7")
    assert len(gate_rows(project)) == 1


# --------------------------------------------------------------------------- llm


LLM_MODEL = {"kind": "llm", "target": "support-v1", "goldensets": ["support"], "runs": 12}


def edit_yaml(root: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Change the demo project's goldband.yaml as data (whatever else the bundled file holds stays)."""
    path = root / "goldband.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def serve_from_registry(ref: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["targets"]["support-v1"] = {"registry": ref}
    return edit


@pytest.fixture
def llm_project(demo_project: Path, monkeypatch: pytest.MonkeyPatch, store_at: str) -> Path:
    monkeypatch.chdir(demo_project)
    monkeypatch.setenv("GOLDBAND_ACTOR", "tester")

    def edit(data: dict[str, Any]) -> None:
        data.setdefault("registry", {}).setdefault("models", {}).update(support=LLM_MODEL)
        data["store"] = backend(store_at)

    edit_yaml(demo_project, edit)
    return demo_project


def test_an_llm_gate_runs_the_golden_set_offline_and_decides_from_its_verdicts(llm_project: Path) -> None:
    ok("registry", "register", "support", "--target", "support-v1")
    outcome = json.loads(ok("gate", "support", "1", "--json", status=1))
    assert outcome["passed"] is False and outcome["champion"] is None
    assert outcome["failures"] == ["1 gating FAIL or ERROR verdict(s): support::express-shipping ERROR"]
    assert outcome["metrics"]["cases"] == 12 and outcome["metrics"]["verdicts"]["ERROR"] == 1
    row = gate_rows(llm_project)[0]
    assert (row["kind"], row["status"], row["decision"]) == ("llm", "complete", "fail")
    assert row["eval_set"] == {"goldensets": ["support"], "runs": 12}
    with registry(llm_project) as reg:
        assert reg.parked("support", "1") == ("gate: 1 gating FAIL or ERROR verdict(s): "
                                              "support::express-shipping ERROR")
    ok("registry", "promote", "support", "1", "--force", "--reason", "the best we have")
    ok("registry", "register", "support", "--target", "support-v1")  # the same configuration again
    against = json.loads(ok("gate", "support", "2", "--json", status=1))
    assert against["champion"] == "1" and against["reasons"] == [
        "1 gating FAIL or ERROR verdict(s): support::express-shipping ERROR",
        "no case regressed significantly against the champion (0 improved)"]
    assert against["failures"] == against["reasons"][:1]  # only what blocked it, and so the park reason
    assert against["metrics"]["changes"] == {"regressed": 0, "improved": 0, "not significant": 12, "new": 0}
    with registry(llm_project) as reg:
        assert reg.parked("support", "2") == ("gate: 1 gating FAIL or ERROR verdict(s): "
                                              "support::express-shipping ERROR")


def _verdicts(root: Path) -> tuple[dict[str, str], set[str]]:
    """goldband.run on the support target: each case's verdict, and the target hashes the store recorded."""
    result = goldband.run(root=root, targets=["support-v1"], store=str(store_path(root)))
    found = {h for (h,) in query(root, "SELECT DISTINCT target_hash FROM verdicts WHERE run_id = ?", result.run_id)}
    return {o.plan.case.id: o.verdict.status for o in result.outcomes}, found


def test_a_registry_target_runs_exactly_the_stored_configuration(llm_project: Path) -> None:
    as_configured, configured_hash = _verdicts(llm_project)
    ok("registry", "register", "support", "--target", "support-v1")
    ok("registry", "promote", "support", "1", "--force", "--reason", "serve it")
    stored = json.loads(query(llm_project, "SELECT target FROM registry_versions")[0][0])
    assert configured_hash == {stored["content_hash"]}
    prompt = llm_project / "prompts" / "support_v1.j2"
    prompt.write_text(prompt.read_text() + "\nAlways answer in French.\n")  # on disk only: the registry keeps its copy
    edited, edited_hash = _verdicts(llm_project)
    assert edited_hash != configured_hash and set(edited.values()) == {"ERROR"}  # no cassette for the new prompt
    edit_yaml(llm_project, serve_from_registry("support@production"))
    from_registry, registry_hash = _verdicts(llm_project)
    assert registry_hash == configured_hash and from_registry == as_configured
    assert len(from_registry) == 12 and from_registry["express-shipping"] == "ERROR"


def test_an_unknown_registry_ref_is_a_usage_error(llm_project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    edit_yaml(llm_project, serve_from_registry("support@staging"))
    ok("registry", "register", "support", "--target", "extract-v1")  # a store with the model, but no staging
    with pytest.raises(ConfigError, match=r"target 'support-v1' \(registry\): no registered version for "
                                          r"'support@staging'"):
        goldband.run(root=llm_project, targets=["support-v1"], runs=3, store=str(store_path(llm_project)))
    result = cli("run", "--target", "support-v1", "--runs", "3")  # pytest in a child process: a usage error
    assert result.exit_code == 2, result.output
    assert "no registered version for 'support@staging'" in capfd.readouterr().err


def test_goldband_yaml_knows_every_gate_metric_and_its_task() -> None:
    """config/registry.py names the metrics (it loads before the registry); registry/stats.py computes them."""
    from typing import get_args

    from goldband.config.registry import CLASSIFICATION_METRICS, REGRESSION_METRICS, MetricName
    from goldband.registry.stats import METRICS

    assert set(get_args(MetricName)) == set(METRICS)
    assert set(CLASSIFICATION_METRICS) == {m for m, spec in METRICS.items() if spec.task == "classification"}
    assert set(REGRESSION_METRICS) == {m for m, spec in METRICS.items() if spec.task == "regression"}
