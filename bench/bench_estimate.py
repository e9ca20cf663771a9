"""Performance estimation without labels: goldband's CBPE and DLE against the realised metrics and NannyML's.

    PYTHONPATH=src .venv/bin/python bench/bench_estimate.py --nannyml-python PATH [--quick]

Per chunk, on the same data: the realised accuracy / F1 / ROC AUC (or MAE /
RMSE), goldband's estimate with its +-3 sampling-error interval, and NannyML's
estimate (NannyML runs in its own environment, ``--nannyml-python``, in one
subprocess reading CSV files; leave it out to run goldband alone). Data:

* synthetic binary: a calibrated logistic model; 10 chunks as in the reference,
  then 10 with more and more cases near the decision boundary (covariate shift);
* digits (scikit-learn's bundled ``load_digits``, 10 classes): a logistic
  regression trained on 600 images, the reference 600 held-out ones, chunks
  resampled from the other 597, the shifted ones weighted towards the images
  the model is least sure of;
* synthetic regression (DLE): noise growing with |x1|; 10 chunks as in the
  reference, then 10 with x1 moving out;
* false alarms: 20 seeds x 10 unchanged chunks of a calibrated binary model,
  the share of chunks each tool flags on any metric;
* the calibration check: how often it recalibrates 100 calibrated and 100
  over-confident references (goldband only).

Writes docs/bench-estimate.md with the machine and this command. Timings are
medians over the chunks (goldband) or NannyML's own estimate call divided by
the chunks; both exclude imports.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cores, load_average

from goldband.monitors.cbpe import CBPE
from goldband.monitors.dle import DLE, regression_metrics

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("accuracy", "f1", "roc_auc")

NANNYML = r'''
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
import nannyml as nml
out = []
for spec in json.load(open(sys.argv[1])):
    ref, ana = pd.read_csv(spec["reference"]), pd.read_csv(spec["analysis"])
    t0 = time.perf_counter()
    if spec["kind"] == "dle":
        est = nml.DLE(feature_column_names=spec["features"], y_pred="y_pred", y_true="y_true",
                      metrics=spec["metrics"], chunk_size=spec["chunk_size"])
    else:
        est = nml.CBPE(y_pred_proba=spec["proba"], y_pred="y_pred", y_true="y_true",
                       problem_type=spec["problem_type"], metrics=spec["metrics"], chunk_size=spec["chunk_size"])
    est.fit(ref)
    t1 = time.perf_counter()
    res = est.estimate(ana).filter(period="analysis").to_df()
    t2 = time.perf_counter()
    found = {"fit_s": t1 - t0, "estimate_s": t2 - t1, "metrics": {}}
    for m in spec["metrics"]:
        found["metrics"][m] = {"value": res[(m, "value")].tolist(),
                               "sampling_error": res[(m, "sampling_error")].tolist(),
                               "alert": [bool(a) for a in res[(m, "alert")]]}
    out.append(found)
print(json.dumps(out))
'''


# -- data -----------------------------------------------------------------------------------------------


def binary(rng: np.random.Generator, n: int, spread: float = 1.0) -> dict[str, Any]:
    x = rng.normal(0.0, spread, n)
    p = 1.0 / (1.0 + np.exp(-2.5 * x))
    return {"x": x[:, None], "proba": np.column_stack([1 - p, p]), "pred": (p >= 0.5).astype(int),
            "y": (rng.random(n) < p).astype(int)}


def binary_case(seed: int, chunks: int, size: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    spreads = [1.0] * chunks + list(np.linspace(0.8, 0.3, chunks))
    parts = [binary(rng, size, s) for s in spreads]
    return {"name": "synthetic binary", "reference": binary(rng, 5000), "chunks": parts, "size": size,
            "classes": 2, "labels": [f"{s:.2f}" for s in spreads], "label_name": "input spread"}


def digits_case(seed: int, chunks: int, size: int) -> dict[str, Any]:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    train, held, pool = order[:600], order[600:1200], order[1200:]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000)).fit(x[train], y[train])

    def part(index: np.ndarray) -> dict[str, Any]:
        p = model.predict_proba(x[index])
        return {"x": x[index][:, :4], "proba": p, "pred": p.argmax(axis=1), "y": y[index]}

    margin = model.predict_proba(x[pool]).max(axis=1)
    rng = np.random.default_rng(seed + 1)
    strengths = [0.0] * chunks + list(np.linspace(2.0, 10.0, chunks))
    parts = []
    for w in strengths:
        weight = np.exp(-w * margin)
        parts.append(part(rng.choice(pool, size, p=weight / weight.sum())))
    return {"name": "digits (10 classes)", "reference": part(held), "chunks": parts, "size": size, "classes": 10,
            "labels": [f"{w:.1f}" for w in strengths], "label_name": "hard-case weight"}


def regression(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, Any]:
    x = np.column_stack([rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n), rng.integers(0, 3, n)])
    mean = 2.0 * x[:, 0] + x[:, 1] + 0.5 * x[:, 2]
    return {"x": x, "pred": mean, "y": mean + rng.normal(0.0, 1.0, n) * (0.3 + np.abs(x[:, 0]))}


# -- goldband ----------------------------------------------------------------------------------------------


def goldband_cbpe(case: dict[str, Any]) -> dict[str, Any]:
    ref = case["reference"]
    start = time.perf_counter()
    est = CBPE.fit(ref["proba"], ref["pred"], ref["y"])
    fit_s = time.perf_counter() - start
    rows, times = [], []
    for part in case["chunks"]:
        start = time.perf_counter()
        guess, se = est.estimate(part["proba"], part["pred"]), est.sampling_error(part["proba"], part["pred"])
        flags = {m: guess[m] < est.band(m, len(part["pred"])).lower for m in METRICS}
        times.append(time.perf_counter() - start)
        rows.append({"estimate": guess, "se": se, "flag": flags,
                     "realised": est.realised(part["proba"], part["pred"], part["y"])})
    return {"fit_s": fit_s, "window_s": statistics.median(times), "rows": rows,
            "calibration": est.calibration.describe()}


def goldband_dle(reference: dict[str, Any], chunks: list[dict[str, Any]]) -> dict[str, Any]:
    start = time.perf_counter()
    est = DLE.fit(reference["x"], reference["pred"], reference["y"], categorical=[False, False, True])
    fit_s = time.perf_counter() - start
    rows, times = [], []
    for part in chunks:
        start = time.perf_counter()
        guess = est.estimate(part["x"], part["pred"])
        flags = {m: guess[m] > est.band(m, len(part["y"])).upper for m in ("mae", "rmse")}
        times.append(time.perf_counter() - start)
        rows.append({"estimate": guess, "se": {m: est.band(m, len(part["y"])).sd for m in ("mae", "rmse")},
                     "flag": flags, "realised": regression_metrics(part["pred"], part["y"])})
    return {"fit_s": fit_s, "window_s": statistics.median(times), "rows": rows}


# -- NannyML in its own environment ---------------------------------------------------------------------------


def write_classification(path: Path, parts: list[dict[str, Any]], classes: int) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        proba = ["y_pred_proba"] if classes == 2 else [f"proba_{c}" for c in range(classes)]
        out.writerow(["x", *proba, "y_pred", "y_true"])
        for part in parts:
            for i in range(len(part["pred"])):
                probs = [part["proba"][i, 1]] if classes == 2 else list(part["proba"][i])
                pred, true = (part["pred"][i], part["y"][i]) if classes == 2 else (f"d{part['pred'][i]}",
                                                                                  f"d{part['y'][i]}")
                out.writerow([part["x"][i, 0], *probs, pred, true])


def classification_spec(folder: Path, tag: str, case: dict[str, Any]) -> dict[str, Any]:
    write_classification(folder / f"{tag}-ref.csv", [case["reference"]], case["classes"])
    write_classification(folder / f"{tag}-ana.csv", case["chunks"], case["classes"])
    binary_model = case["classes"] == 2
    return {"reference": str(folder / f"{tag}-ref.csv"), "analysis": str(folder / f"{tag}-ana.csv"), "kind": "cbpe",
            "proba": "y_pred_proba" if binary_model else {f"d{c}": f"proba_{c}" for c in range(case["classes"])},
            "problem_type": "classification_binary" if binary_model else "classification_multiclass",
            "metrics": list(METRICS), "chunk_size": case["size"]}


def regression_spec(folder: Path, reference: dict[str, Any], chunks: list[dict[str, Any]], size: int) -> dict[str, Any]:
    for tag, parts in (("reg-ref", [reference]), ("reg-ana", chunks)):
        with (folder / f"{tag}.csv").open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["x1", "x2", "x3", "y_pred", "y_true"])
            for part in parts:
                out.writerows([*part["x"][i], part["pred"][i], part["y"][i]] for i in range(len(part["y"])))
    return {"reference": str(folder / "reg-ref.csv"), "analysis": str(folder / "reg-ana.csv"), "kind": "dle",
            "features": ["x1", "x2", "x3"], "metrics": ["mae", "rmse"], "chunk_size": size}


def run_nannyml(python: str | None, specs: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]] | str:
    """NannyML's results per spec, or the reason it could not run."""
    if not python:
        return "not run (no --nannyml-python)"
    (folder / "nml.py").write_text(NANNYML)
    (folder / "specs.json").write_text(json.dumps(specs))
    done = subprocess.run([python, str(folder / "nml.py"), str(folder / "specs.json")], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        return "failed: " + (done.stderr.strip().splitlines() or ["no output"])[-1]
    found: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


# -- report ---------------------------------------------------------------------------------------------------


def chunk_table(case: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any] | None,
                metrics: tuple[str, ...]) -> list[str]:
    head = [f"| chunk | {case['label_name']} |"] + [f" {m} realised | goldband | NannyML |" for m in metrics]
    lines = ["".join(head), "|---|---|" + "---|---|---|" * len(metrics)]
    for i, row in enumerate(ours["rows"]):
        cells = [f"| {i + 1} | {case['labels'][i]} |"]
        for m in metrics:
            flag = " ⚑" if row["flag"][m] else ""
            nml = "n/a"
            if theirs:
                value, alert = theirs["metrics"][m]["value"][i], theirs["metrics"][m]["alert"][i]
                nml = f"{value:.3f}" + (" ⚑" if alert else "")
            cells.append(f" {row['realised'][m]:.3f} | {row['estimate'][m]:.3f} ± {3 * row['se'][m]:.3f}{flag} | "
                         f"{nml} |")
        lines.append("".join(cells))
    return lines


def agreement(ours: dict[str, Any], theirs: dict[str, Any] | None, metrics: tuple[str, ...]) -> list[str]:
    lines = ["| metric | mean abs(goldband - realised) | mean abs(NannyML - realised) | mean abs(goldband - NannyML) "
             "| realised within ±3 SE: goldband | NannyML |", "|---|---|---|---|---|---|"]
    for m in metrics:
        real = np.array([r["realised"][m] for r in ours["rows"]])
        gb = np.array([r["estimate"][m] for r in ours["rows"]])
        se = np.array([r["se"][m] for r in ours["rows"]])
        cover = f"{np.mean(np.abs(gb - real) <= 3 * se):.0%}"
        if theirs:
            nm = np.array(theirs["metrics"][m]["value"], dtype=float)
            nse = np.array(theirs["metrics"][m]["sampling_error"], dtype=float)
            lines.append(f"| {m} | {np.mean(np.abs(gb - real)):.4f} | {np.nanmean(np.abs(nm - real)):.4f} | "
                         f"{np.nanmean(np.abs(gb - nm)):.4f} | {cover} | {np.mean(np.abs(nm - real) <= 3 * nse):.0%} |")
        else:
            lines.append(f"| {m} | {np.mean(np.abs(gb - real)):.4f} | n/a | n/a | {cover} | n/a |")
    return lines


def timing(name: str, ours: dict[str, Any], theirs: dict[str, Any] | None, chunks: int) -> str:
    nml = (f"{theirs['fit_s']:.2f} s | {1000 * theirs['estimate_s'] / chunks:.1f} ms" if theirs else "n/a | n/a")
    return f"| {name} | {ours['fit_s']:.2f} s | {1000 * ours['window_s']:.1f} ms | {nml} |"


def false_alarms(seeds: int, chunks: int, size: int, folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    cases, ours = [], []
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        case = {"name": "fa", "reference": binary(rng, 3000), "chunks": [binary(rng, size) for _ in range(chunks)],
                "size": size, "classes": 2}
        cases.append(classification_spec(folder, f"fa{seed}", case))
        ours.append(goldband_cbpe(case))
    return cases, ours


def multiclass(rng: np.random.Generator, n: int) -> dict[str, Any]:
    logits = rng.normal(0.0, 1.0, (n, 3)) * np.array([2.0, 1.5, 1.0])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.minimum((rng.random((n, 1)) > np.cumsum(p, axis=1)).sum(axis=1), 2)
    return {"proba": p, "pred": p.argmax(axis=1), "y": y}


def calibration_section(references: int) -> list[str]:
    """How often the calibration check recalibrates: calibrated references (false positives) and
    over-confident ones (logits scaled by 1.3 and 1.6: detection)."""
    def warped(rng: np.random.Generator, n: int, warp: float) -> dict[str, Any]:
        x = rng.normal(0.0, 1.0, n)
        p, shown = 1 / (1 + np.exp(-2.5 * x)), 1 / (1 + np.exp(-2.5 * warp * x))
        return {"proba": np.column_stack([1 - shown, shown]), "pred": (shown >= 0.5).astype(int),
                "y": (rng.random(n) < p).astype(int)}

    cases = [("binary, calibrated", lambda r: warped(r, 2000, 1.0)), ("3 classes, calibrated",
             lambda r: multiclass(r, 2000)), ("binary, over-confident (logit x1.3)", lambda r: warped(r, 2000, 1.3)),
             ("binary, over-confident (logit x1.6)", lambda r: warped(r, 2000, 1.6))]
    lines = ["## Calibration check", "", f"{references} references of 2,000 rows each; the share the check "
             "recalibrates (p < 0.05). On calibrated references that is the false-positive rate.", "",
             "| reference | recalibrated |", "|---|---|"]
    for name, make in cases:
        needed = [CBPE.fit(d["proba"], d["pred"], d["y"], seed=s).calibration.needed
                  for s in range(references) for d in [make(np.random.default_rng(500 + s))]]
        lines.append(f"| {name} | {np.mean(needed):.0%} ({sum(needed)} of {references}) |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nannyml-python", default=None, help="python of an environment with nannyml installed")
    parser.add_argument("--quick", action="store_true", help="fewer seeds for the false-alarm count")
    args = parser.parse_args()
    seeds = 5 if args.quick else 20
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = [binary_case(7, 10, 500), digits_case(3, 5, 300)]
        ours = [goldband_cbpe(c) for c in cases]
        rng = np.random.default_rng(11)
        reg_ref = regression(rng, 5000)
        reg_chunks = [regression(rng, 500, s) for s in [0.0] * 10 + list(np.linspace(0.2, 2.0, 10))]
        reg_ours = goldband_dle(reg_ref, reg_chunks)
        fa_specs, fa_ours = false_alarms(seeds, 10, 500, folder)
        specs = [classification_spec(folder, f"c{i}", c) for i, c in enumerate(cases)]
        specs.append(regression_spec(folder, reg_ref, reg_chunks, 500))
        nml = run_nannyml(args.nannyml_python, specs + fa_specs, folder)
    theirs: list[Any] = nml if isinstance(nml, list) else [None] * (len(specs) + len(fa_specs))
    report = render(args, cases, ours, reg_chunks, reg_ours, fa_ours, theirs, nml, seeds)
    report += "\n" + "\n".join(calibration_section(20 if args.quick else 100))
    print(report)
    (ROOT / "docs" / "bench-estimate.md").write_text(report)


def render(args: argparse.Namespace, cases: list[dict[str, Any]], ours: list[dict[str, Any]],
           reg_chunks: list[dict[str, Any]], reg_ours: dict[str, Any], fa_ours: list[dict[str, Any]],
           theirs: list[Any], nml: Any, seeds: int) -> str:
    nml_version = "NannyML: " + (_nml_version(args.nannyml_python) if isinstance(nml, list) else str(nml))
    lines = ["# Performance estimation benchmark", "",
             f"Machine: {platform.processor() or platform.machine()}, {cores()} cores, {platform.system()} "
             f"{platform.release()}; Python {platform.python_version()}, numpy {version('numpy')}, scipy "
             f"{version('scipy')}, scikit-learn {version('scikit-learn')}; {nml_version}; load average at start "
             f"{load_average()}.", "",
             "Reproduce (from the repository root): `PYTHONPATH=src .venv/bin/python bench/bench_estimate.py "
             "--nannyml-python /path/to/nannyml-env/bin/python`", "",
             "⚑: the tool flags the chunk (goldband: below its reference band; NannyML: below its threshold). "
             "goldband's ± is 3 sampling errors (labels drawn from the chunk's calibrated probabilities).", ""]
    for case, mine, other in zip(cases, ours, theirs, strict=False):
        lines += [f"## {case['name']}: chunks of {case['size']}", "", f"goldband's calibration check: "
                  f"{mine['calibration']}.", "", *chunk_table(case, mine, other, METRICS), "",
                  *agreement(mine, other, METRICS), ""]
    reg_case = {"label_name": "x1 shift", "labels": [f"{s:.1f}" for s in [0.0] * 10 + list(np.linspace(0.2, 2, 10))]}
    other = theirs[len(cases)] if len(theirs) > len(cases) else None
    lines += ["## DLE, synthetic regression: chunks of 500", "",
              *chunk_table(reg_case, reg_ours, other, ("mae", "rmse")), "",
              *agreement(reg_ours, other, ("mae", "rmse")), ""]
    lines += fa_section(fa_ours, theirs[len(cases) + 1:], seeds)
    lines += ["## Time", "", "| data | goldband fit | goldband per chunk | NannyML fit | NannyML per chunk |",
              "|---|---|---|---|---|"]
    for case, mine, other in zip(cases, ours, theirs, strict=False):
        lines.append(timing(case["name"], mine, other, len(case["chunks"])))
    lines.append(timing("synthetic regression (DLE)", reg_ours, other, len(reg_chunks)))
    lines += ["", "goldband per chunk: estimate + sampling error (200 label draws) + band check, median. NannyML per "
              "chunk: its `estimate` call on all chunks divided by their number.", ""]
    return "\n".join(lines)


def fa_section(fa_ours: list[dict[str, Any]], theirs: list[Any], seeds: int) -> list[str]:
    ours_flags = [any(r["flag"].values()) for run in fa_ours for r in run["rows"]]
    line = f"| goldband | {np.mean(ours_flags):.1%} | {sum(ours_flags)} of {len(ours_flags)} |"
    out = ["## False alarms on unchanged chunks", "",
           f"{seeds} seeds; each: a calibrated binary model, a 3,000-row reference, 10 unchanged chunks of 500. A "
           "chunk counts as flagged when any of accuracy, F1, ROC AUC is flagged.", "",
           "| tool | chunks flagged | count |", "|---|---|---|", line]
    if theirs and theirs[0]:
        flags = [any(run["metrics"][m]["alert"][i] for m in METRICS) for run in theirs for i in range(10)]
        out.append(f"| NannyML | {np.mean(flags):.1%} | {sum(flags)} of {len(flags)} |")
    return [*out, ""]


def _nml_version(python: str) -> str:
    done = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('nannyml'), "
                           "m.version('pandas'))"], capture_output=True, text=True, check=False)
    parts = done.stdout.split()
    return f"nannyml {parts[0]}, pandas {parts[1]}" if len(parts) == 2 else "version unknown"


if __name__ == "__main__":
    main()
