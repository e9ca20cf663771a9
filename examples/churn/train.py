"""Train the example churn model: what `goldband retrain run` executes (see goldband.yaml, registry.retrain).

    python examples/churn/train.py --out ARTIFACT_DIR --data DATA_PATH [--rows CSV] [--since TIME]

Reads labelled rows from ``--rows`` (a CSV of features and ``label``; in the loop
demo, recent production predictions with their late labels), fits the model and
writes ``weights.json`` into ``--out`` and the training snapshot to ``--data``
(what the monitors then compare production with). ``CHURN_SABOTAGE=1`` trains
on shuffled labels: the deliberately bad retrain of the demo, which the gate parks.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import CATEGORIES, NUMERIC, save, train  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--rows", required=True, type=Path)
    parser.add_argument("--since", default="")
    args = parser.parse_args()
    with args.rows.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print(f"no training rows in {args.rows}", file=sys.stderr)
        return 2
    labels = [float(r["label"]) for r in rows]
    if os.environ.get("CHURN_SABOTAGE") == "1":
        labels = list(np.random.default_rng(0).permutation(labels))
    names = [*NUMERIC, *CATEGORIES]
    weights = train({n: [r[n] for r in rows] for n in names}, labels)
    save(weights, args.out)
    with args.data.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*names, "label"])
        writer.writerows([[r[n] for n in names] + [label] for r, label in zip(rows, labels, strict=True)])
    print(f"trained on {len(rows)} rows; weights in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
