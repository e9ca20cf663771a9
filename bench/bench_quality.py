"""False alarms of inferred data-quality rules and of per-segment drift tests on healthy windows.

    .venv/bin/python bench/bench_quality.py [--quick]

Healthy means the window is drawn from the reference's own distribution, so every
broken inferred rule and every drifted segment is a false alarm. Part 1 sweeps
reference and window sizes for the inferred rules (``quality: {infer: true}``) on
a normal and a heavy-tailed numeric feature, a 3-level and a long-tailed 40-level
categorical one and a feature with 10 % missing values. Part 2 tests windows of
1,000 predictions cut into 3 or 10 segments and reports the share of windows
with a segment flagged, with Benjamini-Hochberg across all segments' tests (what
goldband does) and, for the record, within each segment only; then the share of
windows in which a shift confined to one segment is found. Seeded: a rerun gives
the same shares. Writes docs/bench-quality.md (not with ``--quick``).
"""

from __future__ import annotations

import argparse
import itertools
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cores, load_average

from goldband.config.monitors import ModelMonitorConfig, QualityConfig
from goldband.watch.checks import check_window
from goldband.watch.db import StoredPrediction
from goldband.watch.quality import evaluate, infer_rules
from goldband.watch.reference import Reference, Spec
from goldband.watch.segments import SegmentPlan, check_segments

ROOT = Path(__file__).resolve().parent.parent
REF_SIZES, WINDOW_SIZES = (200, 1_000, 5_000), (50, 500, 5_000)
LEVELS = 40
ZIPF = 1.0 / np.arange(1, LEVELS + 1) ** 1.5
FEATURES = {"normal": "numeric", "lognormal": "numeric", "plan": "categorical", "long_tail": "categorical",
            "with_missing": "numeric"}


# -- data ---------------------------------------------------------------------------------------


def draw(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, Any]:
    """``n`` rows of the five features; ``shift`` moves ``normal`` and ``lognormal`` by that many sd."""
    missing = rng.normal(size=n)
    missing[rng.random(n) < 0.10] = np.nan
    return {"normal": rng.normal(shift, 1.0, n), "lognormal": rng.lognormal(shift, 1.0, n),
            "plan": [("free", "pro", "team")[i] for i in rng.choice(3, n, p=[0.6, 0.3, 0.1])],
            "long_tail": [f"c{i}" for i in rng.choice(LEVELS, n, p=ZIPF / ZIPF.sum())],
            "with_missing": missing}


def reference(rng: np.random.Generator, n: int) -> Reference:
    data = draw(rng, n)
    spec = Spec(dict(FEATURES), {})
    return Reference("bench", "1", "-", "-", "csv", spec, n,
                     numeric={k: np.asarray(data[k], dtype=np.float64) for k, v in FEATURES.items() if v == "numeric"},
                     categorical={k: list(data[k]) for k, v in FEATURES.items() if v == "categorical"})


def rows(data: dict[str, Any], segment: list[str] | None = None) -> list[StoredPrediction]:
    n = len(data["normal"])
    out = []
    for i in range(n):
        features = {k: (None if isinstance(data[k][i], float) and np.isnan(data[k][i]) else
                        (float(data[k][i]) if FEATURES[k] == "numeric" else data[k][i])) for k in FEATURES}
        if segment is not None:
            features["country"] = segment[i]
        out.append(StoredPrediction(i, f"p{i}", "2026-01-01T00:00:00.000+00:00", features, None, None))
    return out


# -- part 1: inferred rules ---------------------------------------------------------------------------


def plant(data: dict[str, Any], rng: np.random.Generator, share: float) -> dict[str, Any]:
    """``share`` of the rows: ``normal`` far above its range, ``plan`` a category the reference never had."""
    n = len(data["normal"])
    hit = rng.random(n) < share
    data["normal"] = np.where(hit, 10.0, data["normal"])
    data["plan"] = ["enterprise" if h else v for h, v in zip(hit, data["plan"], strict=True)]
    return data


def quality_cell(n_ref: int, n_win: int, windows: int, seed: int, planted: float = 0.0) -> dict[str, float]:
    """Per rule family, the share of windows in which an inferred rule is broken (``planted``: bad rows)."""
    rng = np.random.default_rng(seed)
    families: dict[str, list[bool]] = {}
    for _ in range(max(1, windows // 20)):  # a fresh reference every 20 windows: its own extremes vary too
        rules = infer_rules(reference(rng, n_ref), QualityConfig(infer=True))
        for _ in range(20):
            data = plant(draw(rng, n_win), rng, planted)
            columns = {k: (np.asarray(v, dtype=np.float64) if FEATURES[k] == "numeric" else v)
                       for k, v in data.items()}
            broken = {r.name for r in evaluate(rules, columns) if r.violated}
            for family, names in FAMILIES.items():
                families.setdefault(family, []).append(bool(broken & names))
            families.setdefault("any rule", []).append(bool(broken))
    return {k: float(np.mean(v)) for k, v in families.items()}


FAMILIES = {"range, normal": {"normal.min", "normal.max"}, "range, lognormal": {"lognormal.min", "lognormal.max"},
            "categories, 3 levels": {"plan.categories"}, "categories, 40 (Zipf)": {"long_tail.categories"},
            "max_missing (10 % missing)": {"with_missing.max_missing"}}


# -- part 2: segments --------------------------------------------------------------------------------


def segment_plan(rng: np.random.Generator, segments: int, per_segment_ref: int) -> SegmentPlan:
    return SegmentPlan("country", {f"s{i}": reference(rng, per_segment_ref) for i in range(segments)})


def segment_cell(segments: int, windows: int, seed: int, shift: float = 0.0) -> tuple[float, float]:
    """Share of windows with a segment flagged: BH across segments (goldband), and within each segment only."""
    rng = np.random.default_rng(seed)
    cfg = ModelMonitorConfig(window=1000, segments=["country"], min_segment_rows=50)
    joint, separate = [], []
    for w in range(windows):
        if w % 10 == 0:  # a fresh reference every 10 windows: an unlucky reference sample is part of the rate
            plan = segment_plan(rng, segments, 3000 // segments)
        per = 1000 // segments
        parts = [draw(rng, per, shift if i == 0 else 0.0) for i in range(segments)]
        data = {k: np.concatenate([p[k] for p in parts]) if FEATURES[k] == "numeric" else
                list(itertools.chain.from_iterable(p[k] for p in parts)) for k in FEATURES}
        window = rows(data, [f"s{i}" for i in range(segments) for _ in range(per)])
        found = check_segments([plan], window, cfg)
        joint.append(any(r.input_drifted for r in found) if shift == 0 else found[0].input_drifted)
        alone = [check_window(replace(plan.references[f"s{i}"]), window[i * per:(i + 1) * per], cfg)
                 for i in range(segments)]
        separate.append(any(c.input_drifted for c in alone) if shift == 0 else alone[0].input_drifted)
    return float(np.mean(joint)), float(np.mean(separate))


# -- report ---------------------------------------------------------------------------------------------


def pct(share: float) -> str:
    return "0" if share == 0 else f"{share:.1%}" if share < 0.1 else f"{share:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer windows; print, do not write docs/")
    args = parser.parse_args()
    load, start = load_average(), time.perf_counter()
    windows, seg_windows = (40, 10) if args.quick else (400, 200)
    lines = ["## Inferred rules on healthy windows: share of windows with a rule broken", "",
             f"{windows} windows per cell (a new reference every 20). With k windows a share's Monte-Carlo error "
             "is about sqrt(s (1 - s) / k).", "",
             "| reference rows | window rows | " + " | ".join([*FAMILIES, "any rule"]) + " |",
             "|---|---|" + "---|" * (len(FAMILIES) + 1)]
    for seed, (n_ref, n_win) in enumerate((r, w) for r in REF_SIZES for w in WINDOW_SIZES):
        cell = quality_cell(n_ref, n_win, windows, seed)
        lines.append(f"| {n_ref:,} | {n_win:,} | " + " | ".join(pct(cell[k]) for k in [*FAMILIES, "any rule"]) + " |")
    lines += ["", "## Inferred rules catching planted bad rows: share of windows with the rule broken", "",
              "2 % of the window's rows (drawn at random) get `normal` = 10 (the reference's maximum is about 3-4) "
              "and `plan` = a category the reference never had.", "",
              "| reference rows | window rows | range, normal | categories, 3 levels |", "|---|---|---|---|"]
    for seed, (n_ref, n_win) in enumerate((r, w) for r in REF_SIZES for w in WINDOW_SIZES):
        cell = quality_cell(n_ref, n_win, windows // 2, 50 + seed, planted=0.02)
        lines.append(f"| {n_ref:,} | {n_win:,} | {pct(cell['range, normal'])} | "
                     f"{pct(cell['categories, 3 levels'])} |")
    lines += ["", "## Segments: windows of 1,000 predictions, 3,000 reference rows", "",
              f"{seg_windows} windows per row (a new reference every 10). Healthy: the share of windows with any "
              "segment flagged (a false alarm). Shifted: `normal` and `lognormal` moved by 0.5 sd in one "
              "segment only; the share of windows in which that segment is flagged.", "",
              "| segments | rows per segment | healthy: BH across segments (goldband) | healthy: BH within each "
              "segment | shifted: BH across segments (goldband) | shifted: BH within each segment |",
              "|---|---|---|---|---|---|"]
    for k, segments in enumerate((3, 10)):
        healthy = segment_cell(segments, seg_windows, 100 + k)
        shifted = segment_cell(segments, seg_windows, 200 + k, shift=0.5)
        lines.append(f"| {segments} | {1000 // segments} | {pct(healthy[0])} | {pct(healthy[1])} | "
                     f"{pct(shifted[0])} | {pct(shifted[1])} |")
    head = ["# Data-quality rules and segments: false alarms on healthy windows", "",
            f"Machine: {platform.machine()}, {cores()} cores, Python {platform.python_version()}, numpy "
            f"{np.__version__}; load average at start {load}; runtime {time.perf_counter() - start:.0f} s.", "",
            "Reproduce (from the repository root): `.venv/bin/python bench/bench_quality.py`", ""]
    text = "\n".join(head + lines) + "\n"
    print(text)
    if not args.quick:
        (ROOT / "docs" / "bench-quality.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
