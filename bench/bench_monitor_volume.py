"""Monitoring at real data volumes (issue 11): ingestion, storage, `monitor check` against Evidently, the demo.

    python bench/bench_monitor_volume.py --evidently-python /path/to/venv/bin/python
    python bench/bench_monitor_volume.py --rows 100000 --rounds 3          # a quicker run
    python bench/bench_monitor_volume.py ... --out docs/bench-monitor-volume.md

Data: N logged predictions of 20 features (15 numeric, 5 categorical) plus id, time, prediction and
confidence, seeded; the numeric features shift by 0.3 standard-ish units in the second half, so drift is
there to find. The reference is 20,000 rows of the same generator before the shift.

(a) `goldband monitor log` as a subprocess on the CSV and the JSON Lines file (and Parquet when pyarrow is
    importable), into a fresh store each time: wall time and the child's peak RSS (``os.wait4``).
(b) store bytes per prediction (the SQLite file after VACUUM, divided by N) with features as today's JSON
    array under a layout and as the JSON object of migration 0003 (rewritten in place, which also times a
    conversion of every row), and a comparison of feature encodings on the stored rows: bytes, encode and
    decode time per prediction.
(c) `goldband monitor check` over the N predictions against the reference, on a fresh copy of the store each
    round: default windows of 500 and one window of everything; and Evidently's DataDriftPreset on the same
    reference and current rows, run by ``--evidently-python`` in a subprocess, timing its CSV load
    (pandas) and its report apart.
(d) `goldband monitor demo` wall time.

Rounds are interleaved (each round runs every contender once) and medians reported. Prints Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from machine import cores, load_average, meets

NUMERIC = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
LEVELS = [["a", "b", "c"], ["north", "south", "east", "west"], ["basic", "pro", "team", "enterprise", "free"],
          ["yes", "no"], [f"l{i}" for i in range(8)]]
GOLDBAND = [str(Path(sys.executable).with_name("goldband"))]  # the console script of this Python
REFERENCE_ROWS = 20_000

EVIDENTLY = r'''
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
ref_path, cur_path, numeric, categorical = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",")
t0 = time.perf_counter()
ref = pd.read_csv(ref_path, usecols=numeric + categorical)
cur = pd.read_csv(cur_path, usecols=numeric + categorical)
t1 = time.perf_counter()
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(cur, data_definition=definition),
                                           Dataset.from_pandas(ref, data_definition=definition))
result = snapshot.dict()
t2 = time.perf_counter()
drifted = [m["value"] for m in result["metrics"] if "DriftedColumnsCount" in str(m.get("metric_id"))]
print(json.dumps({"load_s": t1 - t0, "report_s": t2 - t1, "drifted": drifted[0] if drifted else None}))
'''


# -- data ---------------------------------------------------------------------------------------------


def rows(n: int, seed: int, shift: float = 0.0) -> Iterator[dict[str, Any]]:
    rng, start = random.Random(seed), datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        row: dict[str, Any] = {"prediction_id": f"p{seed}-{i}",
                               "time": (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")}
        moved = shift if i >= n // 2 else 0.0
        for j, name in enumerate(NUMERIC):
            row[name] = round(rng.gauss(j + moved, 1 + j / 10), 4)
        for name, levels in zip(CATEGORICAL, LEVELS, strict=True):
            row[name] = levels[min(int(rng.expovariate(1.0) * len(levels) / 3), len(levels) - 1)]
        p = rng.random()
        row["prediction"], row["confidence"] = ("yes" if p > 0.5 else "no"), round(max(p, 1 - p), 4)
        yield row


def write_csv(path: Path, data: Iterator[dict[str, Any]]) -> None:
    first = next(data)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, list(first))
        out.writeheader()
        out.writerow(first)
        out.writerows(data)


def write_jsonl(path: Path, data: Iterator[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, separators=(",", ":")) + "\n" for r in data)


def write_parquet(path: Path, source: Path) -> bool:
    """The CSV as Parquet, converted in a child process: a child's peak RSS (wait4) counts the pages it shared
    with this process when it was forked, so a 600 MB Arrow table here inflated every later measurement."""
    if importlib.util.find_spec("pyarrow") is None:
        return False
    script = ("import sys, pyarrow.csv as c, pyarrow.parquet as p; "
              "p.write_table(c.read_csv(sys.argv[1]), sys.argv[2])")
    subprocess.run([sys.executable, "-c", script, str(source), str(path)], check=True)
    return True


# -- running goldband ----------------------------------------------------------------------------------


def run(cmd: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak RSS in MB (the child's own, from wait4) and output of one subprocess."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode()
    if child.returncode not in (0, 6):
        raise SystemExit(f"{' '.join(cmd)} failed ({child.returncode}):\n{text[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def new_store(folder: Path, name: str, reference: Path) -> Path:
    store = folder / f"{name}.db"
    for old in folder.glob(f"{name}.db*"):
        old.unlink()
    run([*GOLDBAND, "monitor", "reference", "m", str(reference), "--store", str(store), "--numeric",
         ",".join(NUMERIC), "--categorical", ",".join(CATEGORICAL)], folder)
    return store


def ingest(folder: Path, files: dict[str, Path], reference: Path,
           rounds: int) -> dict[str, list[tuple[float, float, float]]]:
    found: dict[str, list[tuple[float, float, float]]] = {kind: [] for kind in files}
    for _ in range(rounds):
        for kind, path in files.items():
            store = new_store(folder, f"ingest-{kind}", reference)
            wall, cpu, rss, _ = run([*GOLDBAND, "monitor", "log", "m", str(path), "--store", str(store)], folder)
            found[kind].append((wall, cpu, rss))
    return found


def vacuumed_size(path: Path) -> int:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path.stat().st_size


def to_objects(path: Path) -> float:
    """Rewrite every prediction's features as the JSON object migration 0003 stored; the seconds it took."""
    start = time.perf_counter()
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        names = {i: json.loads(n) for i, n in conn.execute("SELECT id, names FROM monitor_layouts")}
        rewritten = ((json.dumps(dict(zip(names[layout], json.loads(f), strict=True)), separators=(",", ":"),
                                 ensure_ascii=False), pid)
                     for pid, f, layout in conn.execute("SELECT id, features, layout FROM monitor_predictions")
                     .fetchall())
        conn.executemany("UPDATE monitor_predictions SET features = ?, layout = NULL WHERE id = ?", rewritten)
    return time.perf_counter() - start


# -- feature encodings ---------------------------------------------------------------------------------


def encodings(path: Path, sample: int) -> list[tuple[str, float, float, float]]:
    """(encoding, bytes per prediction, encode us, decode us) over ``sample`` stored predictions' features."""
    from goldband.watch import db

    with contextlib.closing(sqlite3.connect(path)) as conn:
        known = db.layouts(conn)
        feats = [db.decode_features(known, layout, f) for f, layout in conn.execute(
            "SELECT features, layout FROM monitor_predictions ORDER BY id LIMIT ?", [sample])]
    names = tuple(feats[0])
    strings: dict[str, int] = {}
    table: list[str] = []  # the string dictionary, filled after encoding
    coders = {
        "JSON object (0003)": (lambda f: json.dumps(f, separators=(",", ":")),
                               json.loads),
        "JSON array + layout (0007, chosen)": (lambda f: json.dumps(list(f.values()), separators=(",", ":")),
                                               lambda t: dict(zip(names, json.loads(t), strict=True))),
        "binary: tag + float64 / string-dictionary index": (lambda f: pack(f, strings),
                                                            lambda b: unpack(b, names, table)),
    }
    out = []
    for name, (encode, decode) in coders.items():
        start = time.perf_counter()
        blobs = [encode(f) for f in feats]
        mid = time.perf_counter()
        table[:] = list(strings)
        for blob in blobs:
            decode(blob)
        end = time.perf_counter()
        size = sum(len(b.encode() if isinstance(b, str) else b) for b in blobs) / len(blobs)
        if isinstance(blobs[0], bytes):  # the dictionary is stored too
            size += sum(len(t.encode()) + 4 for t in table) / len(blobs)
        out.append((name, size, (mid - start) / len(feats) * 1e6, (end - mid) / len(feats) * 1e6))
    return out


def pack(features: dict[str, Any], strings: dict[str, int]) -> bytes:
    """Per value one tag byte, then a float64 for a number or a uint32 index into a string dictionary."""
    parts = []
    for value in features.values():
        if value is None:
            parts.append(b"\x00")
        elif isinstance(value, str):
            parts.append(b"\x02" + struct.pack("<I", strings.setdefault(value, len(strings))))
        else:
            parts.append(b"\x01" + struct.pack("<d", float(value)))
    return b"".join(parts)


def unpack(blob: bytes, names: tuple[str, ...], strings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    at = 0
    for name in names:
        tag = blob[at]
        if tag == 0:
            out[name], at = None, at + 1
        elif tag == 2:
            out[name], at = strings[struct.unpack_from("<I", blob, at + 1)[0]], at + 5
        else:
            out[name], at = struct.unpack_from("<d", blob, at + 1)[0], at + 9
    return out


# -- check against Evidently ----------------------------------------------------------------------------


def project(folder: Path, name: str, store: Path, window: int | None) -> Path:
    where = folder / name
    where.mkdir(exist_ok=True)
    models = f"  models:\n    m:\n      window: {window}\n" if window else "  models: {}\n"
    (where / "goldband.yaml").write_text(f"store: {store}\nmonitors:\n" + models)
    return where


def checks(folder: Path, source: Path, reference: Path, current: Path, rows_n: int, rounds: int,
           evidently: str | None) -> dict[str, list[float]]:
    labels = ["windows of 500", f"one window of {rows_n:,}", "evidently report", "evidently load"]
    found: dict[str, list[float]] = {k: [] for k in [*labels, "cpu " + labels[0], "cpu " + labels[1]]}
    script = folder / "evidently_run.py"
    script.write_text(EVIDENTLY)
    for _ in range(rounds):
        for label, window in (("windows of 500", None), (f"one window of {rows_n:,}", rows_n)):
            store = folder / "check.db"
            for old in folder.glob("check.db*"):
                old.unlink()
            shutil.copy(source, store)
            wall, cpu, _, _ = run([*GOLDBAND, "monitor", "check", "m", "--no-eval"],
                                  project(folder, "p", store, window))
            found[label].append(wall)
            found["cpu " + label].append(cpu)
        if evidently:
            out = subprocess.run([evidently, str(script), str(reference), str(current), ",".join(NUMERIC),
                                  ",".join(CATEGORICAL)], capture_output=True, text=True, check=True)
            timing = json.loads(out.stdout.strip().splitlines()[-1])
            found["evidently report"].append(timing["report_s"])
            found["evidently load"].append(timing["load_s"])
    return found


def demo(folder: Path, rounds: int) -> list[float]:
    times = []
    for i in range(rounds):
        where = folder / f"demo{i}"
        where.mkdir()
        times.append(run([*GOLDBAND, "monitor", "demo"], where)[0])
    return times


# -- report ---------------------------------------------------------------------------------------------


def med(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--evidently-python", default=None, help="a Python with evidently (0.7) and pandas")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="gb-volume-"))
    folder.mkdir(parents=True, exist_ok=True)
    lines = report(folder, args)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


def report(folder: Path, args: argparse.Namespace) -> list[str]:
    n, rounds = args.rows, args.rounds
    reference, current = folder / "reference.csv", folder / "current.csv"
    write_csv(reference, rows(REFERENCE_ROWS, 1))
    write_csv(current, rows(n, 2, shift=0.3))
    files = {"CSV": current}
    write_jsonl(folder / "current.jsonl", rows(n, 2, shift=0.3))
    files["JSON Lines"] = folder / "current.jsonl"
    if write_parquet(folder / "current.parquet", current):
        files["Parquet"] = folder / "current.parquet"
    lines = [f"Machine: {platform.python_implementation()} {platform.python_version()}, {platform.system()} "
             f"{platform.machine()}, {cores()} cores, load average {load_average()} at the start; "
             f"{datetime.now(UTC):%Y-%m-%d}.", "",
             f"Reproduce: `python bench/bench_monitor_volume.py --rows {n} --rounds {rounds}"
             + (" --evidently-python PATH" if args.evidently_python else "") + "`", ""]
    lines += ingest_section(folder, files, reference, n, rounds)
    source = folder / "ingest-CSV.db"
    lines += storage_section(folder, {k: folder / f"ingest-{k}.db" for k in ("CSV", "JSON Lines")}, n)
    lines += check_section(folder, source, reference, current, n, rounds, args.evidently_python)
    times = demo(folder, rounds)
    lines += ["## (d) `goldband monitor demo`", "",
              f"Median of {rounds}: **{med(times):.2f} s** (target < 3 s: {meets(med(times) < 3)}).", ""]
    return lines


def ingest_section(folder: Path, files: dict[str, Path], reference: Path, n: int, rounds: int) -> list[str]:
    found = ingest(folder, files, reference, rounds)
    out = [f"## (a) Ingesting {n:,} predictions x 20 features with `goldband monitor log`", "",
           "| file | size | wall (median) | CPU (median) | predictions/s | peak RSS (median) | "
           "targets (< 30 s, < 500 MB) |", "|---|---|---|---|---|---|---|"]
    for kind, runs in found.items():
        wall, cpu, rss = (med([r[i] for r in runs]) for i in range(3))
        out.append(f"| {kind} | {files[kind].stat().st_size / 1e6:,.0f} MB | {wall:.1f} s | {cpu:.1f} s | "
                   f"{n / wall:,.0f} | "
                   f"{rss:,.0f} MB | {meets(wall < 30 and rss < 500) if n >= 1_000_000 else 'set for 1,000,000'} |")
    out += ["", f"Every value is the median of {rounds} interleaved rounds, each into a fresh store; the time "
            "includes start-up, hashing the file (for the ids of rows without one) and committing every 5,000 "
            "rows. Peak RSS is the child process's own (`os.wait4`).", ""]
    return out


def storage_section(folder: Path, stores: dict[str, Path], n: int) -> list[str]:
    out = ["## (b) Store bytes per prediction", "",
           "| ingested from | features stored as | store file (after VACUUM) | bytes per prediction |",
           "|---|---|---|---|"]
    seconds = 0.0
    for kind, source in stores.items():
        copy = folder / "objects.db"
        for old in folder.glob("objects.db*"):
            old.unlink()
        vacuumed_size(source)  # checkpointed: the copy holds everything
        shutil.copy(source, copy)
        compact = vacuumed_size(source)
        seconds = to_objects(copy)
        objects = vacuumed_size(copy)
        copy.unlink()
        out += [f"| {kind} | {how} | {size / 1e6:,.0f} MB | {size / n:,.0f} |" for how, size in
                (("JSON object per prediction (migration 0003)", objects),
                 ("JSON array under a shared layout (0007)", compact))]
    out += ["", "CSV cells arrive as text and are stored as JSON strings (`\"2.3382\"`, as before); JSON Lines keep "
            f"their numbers. Rewriting all {n:,} rows from one form to the other in place took {seconds:.1f} s (one "
            "UPDATE per row, one transaction): migration 0007 converts nothing, and readers decode both forms.", ""]
    sample = min(n, 100_000)
    for kind, source in stores.items():
        out += [f"Feature encodings of {sample:,} predictions ingested from {kind} (features only; Python encode and "
                "decode per prediction; the binary form's string dictionary counted in its bytes):", "",
                "| encoding | bytes per prediction | encode us | decode us |", "|---|---|---|---|"]
        out += [f"| {name} | {size:,.0f} | {enc:.1f} | {dec:.1f} |"
                for name, size, enc, dec in encodings(source, sample)]
        out.append("")
    return out


def check_section(folder: Path, source: Path, reference: Path, current: Path, n: int, rounds: int,
                  evidently: str | None) -> list[str]:
    found = checks(folder, source, reference, current, n, rounds, evidently)
    out = [f"## (c) `goldband monitor check` over {n:,} predictions against {REFERENCE_ROWS:,} reference rows", "",
           "| what | computes | wall (median) |", "|---|---|---|"]
    for label, times in found.items():
        if not times or label.startswith("cpu "):
            continue
        what = {"windows of 500": f"{n // 500:,} windows: 20 feature tests + missing-share and output tests each, "
                                  "BH across them, results and alerts stored",
                "evidently report": "DataDriftPreset: 20 column tests of the whole current set against the "
                                    "reference, once (data already in pandas)",
                "evidently load": "pandas.read_csv of reference and current (20 columns)"}.get(
            label, "the same tests as one window, stored")
        prefix = "goldband check, " if not label.startswith("evidently") else ""
        cpu = f" (CPU {med(found['cpu ' + label]):.1f} s)" if found.get("cpu " + label) else ""
        out.append(f"| {prefix}{label} | {what} | {med(times):.1f} s{cpu} |")
    if found["evidently report"]:
        whole = med(found[f"one window of {n:,}"])
        evi = med(found["evidently report"]) + med(found["evidently load"])
        out += ["", f"One window of everything against Evidently's load + report: {whole / evi:.2f}x; "
                f"default windows against it: {med(found['windows of 500']) / evi:.2f}x. goldband's times are "
                "whole processes (start-up, reading the store, writing results); Evidently's exclude its "
                "import.", ""]
    return out


if __name__ == "__main__":
    main()
