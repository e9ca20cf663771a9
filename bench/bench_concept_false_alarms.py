"""False alarms and detection delay of the concept-drift detectors on 0/1 error streams.

    .venv/bin/python bench/bench_concept_false_alarms.py [--quick]

A healthy model's errors are Bernoulli(p) draws with p fixed; any alarm on such a
stream is a false alarm. The sweep covers error rates 0.001-0.5 and stream lengths
500-1,000,000 and reports the share of streams with at least one alarm, for every
default concept detector (``goldband.config.monitors``) and, for the record, for
DDM (opt-in) with and without its ``min_errors`` guard. Planted jumps in the error
rate then give the detection rate and the median delay. Seeded: a rerun on any
machine gives the same shares; only the runtime changes. Writes
docs/bench-concept.md (not with ``--quick``).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cores, load_average

from goldband.config.monitors import ModelMonitorConfig
from goldband.monitors import DDM, StreamingDetector, make_detector

ROOT = Path(__file__).resolve().parent.parent
RATES = (0.001, 0.005, 0.02, 0.1, 0.25, 0.5)
# length: streams per cell; the default detectors (vectorised ADWIN, ~4 M labels/s) get
# more streams than DDM (a Python loop, ~1 M labels/s): the total stays under ~3 minutes.
LENGTHS_DEFAULT = {500: 1_000, 2_000: 500, 20_000: 100, 1_000_000: 30}
LENGTHS_DDM = {500: 400, 2_000: 200, 20_000: 40, 1_000_000: 4}
QUICK = {500: 100, 2_000: 50, 20_000: 10}
JUMPS = ((0.001, 0.01, 20_000), (0.01, 0.05, 5_000), (0.05, 0.15, 5_000), (0.2, 0.3, 5_000))
JUMP_STREAMS = 100

Factory = Callable[[], StreamingDetector]


def detectors(quick: bool) -> dict[str, tuple[Factory, dict[int, int]]]:
    """The default concept detectors, then DDM (opt-in) guarded and unguarded, with their cells."""
    found: dict[str, tuple[Factory, dict[int, int]]] = {}
    for name, params in ModelMonitorConfig().concept_detectors.items():
        found[f"{name} {params} (default)"] = (lambda name=name, params=params: make_detector(name, **params),
                                      QUICK if quick else LENGTHS_DEFAULT)
    # river's ADWIN default, for the record: only the long streams, where it differs
    found["adwin {'delta': 0.002} (river's default)"] = (
        lambda: make_detector("adwin", delta=0.002),
        QUICK if quick else {1_000_000: LENGTHS_DEFAULT[1_000_000]})
    found["ddm (opt-in, min_errors=30)"] = (DDM, QUICK if quick else LENGTHS_DDM)
    found["ddm unguarded (min_errors=0, river's DDM)"] = (lambda: DDM(min_errors=0),
                                                           QUICK if quick else LENGTHS_DDM)
    return found


def share_alarmed(make: Factory, rate: float, length: int, streams: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    alarmed = sum(bool(make().update_many((rng.random(length) < rate) * 1.0)) for _ in range(streams))
    return alarmed / streams


def false_alarm_rows(dets: dict[str, tuple[Factory, dict[int, int]]]) -> list[str]:
    rows = []
    for label, (make, lengths) in dets.items():
        for length, streams in lengths.items():
            shares = [share_alarmed(make, r, length, streams, seed=int(r * 1e4) + length)
                      for r in RATES]
            cells = " | ".join(f"{s:.0%}" if s else "0" for s in shares)
            rows.append(f"| {label} | {length:,} | {streams} | {cells} |")
    return rows


def jump_row(label: str, make: Factory, before: float, after: float, at: int,
             streams: int) -> str:
    rng = np.random.default_rng(int(after * 1e4) + at)
    delays, early = [], 0
    for _ in range(streams):
        probs = np.r_[np.full(at, before), np.full(at, after)]
        hits = make().update_many((rng.random(2 * at) < probs) * 1.0)
        early += any(h < at for h in hits)
        late = [h - at for h in hits if h >= at]
        if late:
            delays.append(late[0])
    median = f"{np.median(delays):,.0f}" if delays else "-"
    return (f"| {label} | {before} -> {after} at {at:,} (of {2 * at:,}) | "
            f"{len(delays) / streams:.0%} | {median} | {early / streams:.0%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="lengths up to 20,000, fewer streams")
    args = parser.parse_args()
    jump_streams = 20 if args.quick else JUMP_STREAMS
    load, start, dets = load_average(), time.perf_counter(), detectors(args.quick)
    fa = false_alarm_rows(dets)
    jumps = [jump_row(label, make, *j, jump_streams)
             for label, (make, _) in dets.items() for j in JUMPS if "river's default" not in label]
    took = time.perf_counter() - start
    rates = " | ".join(str(r) for r in RATES)
    text = "\n".join([
        "# Concept-drift detectors: false alarms on healthy models, and detection delay",
        "",
        f"Machine: {platform.machine()}, {cores()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}; load average at start {load}; runtime {took:.0f} s.",
        "",
        "Reproduce (from the repository root): "
        f"`.venv/bin/python bench/bench_concept_false_alarms.py"
        f"{' --quick' if args.quick else ''}`",
        "",
        "## Healthy models: share of streams with at least one alarm",
        "",
        "Each stream is Bernoulli(error rate) 0/1 errors with the rate fixed; every alarm",
        "is false. Seeded, so the shares are exact for these streams; with k streams a",
        "share's Monte-Carlo error is about sqrt(s (1 - s) / k).",
        "",
        f"| detector | labels | streams | {rates} |",
        "|---|---|---|" + "---|" * len(RATES),
        *fa,
        "",
        "## Planted jumps in the error rate",
        "",
        f"{jump_streams} streams per row: the rate jumps once, half-way. Detected = an alarm",
        "at or after the jump; delay = labels from the jump to the first such alarm;",
        "early = streams with an alarm before the jump (false).",
        "",
        "| detector | jump | detected | median delay | early |",
        "|---|---|---|---|---|",
        *jumps,
        "",
    ])
    print(text)
    if not args.quick:
        out = ROOT / "docs" / "bench-concept.md"
        out.write_text(text, encoding="utf-8")
        print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
