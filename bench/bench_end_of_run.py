"""The end of a large run: wall after the last trial, report sizes, peak RSS (issue 14, part 3).

    python bench/bench_end_of_run.py                      # 5,000 cases x 5 runs; writes docs/bench-end-of-run.md
    python bench/bench_end_of_run.py --cases 500 --rounds 1 --no-doc     # a quick check
    python bench/bench_end_of_run.py --baseline-src /path/to/old/src     # side by side with another tree

Each run is ``pytest`` in a child process on a project of ``--cases`` cases x
``--runs`` runs with one ``contains`` check, against the loopback FakeOpenAI
(another process) at 20 ms latency, concurrency 64, one request per sample.
A conftest stamps the phases on stderr: collection done, the last item's
verdict (each item waits for its own trials, so this is the last trial plus
its verdict), the start of pytest's session finish (goldband's store flush,
series points and reports come after it), the terminal summary (after them),
and unconfigure; the parent stamps the child's exit and reads its peak RSS
and CPU seconds from ``os.wait4``. Report size is the bytes of every file
under ``reports/`` (``lstat``: a ``latest`` link counts as a link, not a
copy). With ``--baseline-src`` the same workload runs with that source tree
first on ``PYTHONPATH`` (e.g. a checkout of the previous commit), in the same
rounds, alternating which goes first; medians over rounds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import start_server
from bench_engine import write_project as engine_project
from machine import cores, load_average, meets

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DOC = ROOT / "docs" / "bench-end-of-run.md"
TARGETS = {"after_last": 2.0, "rss_mb": 250.0, "reports_mb": 20.0}  # issue 14 at 5,000 cases x 5 runs

STAMPS = """
import os, resource, sys, time
import pytest

def _say(what):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"PHASE {what} {time.time():.4f} {peak:.1f}", file=sys.stderr, flush=True)

def pytest_collection_finish(session):
    _say("collected")

def pytest_runtest_logfinish(nodeid, location):
    _say("item")

@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    _say("finish")

def pytest_terminal_summary(terminalreporter):
    _say("summary")

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    _say("unconfigure")
"""


def write_project(root: Path, url: str, *, cases: int, runs: int, concurrency: int) -> None:
    """bench_engine's project (one request per sample), with the conftest that stamps the phases."""
    engine_project(root, url, cases=cases, runs=runs, concurrency=concurrency, supports_n=False)
    (root / "conftest.py").write_text(STAMPS)


def one_run(url: str, src: Path, args: argparse.Namespace) -> dict[str, float]:
    """One pytest run of the workload with ``src`` first on the path: phases, CPU, peak RSS, report bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_project(root, url, cases=args.cases, runs=args.runs, concurrency=args.concurrency)
        env = {**os.environ, "PYTHONPATH": str(src)}
        for name in ("CI", "GOLDBAND_STORE", "GOLDBAND_REPORT", "GOLDBAND_MODE", "GOLDBAND_RUNS"):
            env.pop(name, None)
        err = root / "stderr.txt"
        with err.open("w") as stderr:
            start = time.time()
            proc = subprocess.Popen([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                                     "-p", "no:randomly", "goldensets"], cwd=root, env=env,
                                    stdout=subprocess.PIPE, stderr=stderr, text=True)
            assert proc.stdout is not None
            out = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
            ended = time.time()
            proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0 or f"{args.cases} passed" not in out:
            raise SystemExit(f"benchmark run failed ({proc.returncode}):\n{out[-2000:]}\n{err.read_text()[-2000:]}")
        marks = _marks(err.read_text())
        return {"wall": ended - start, "collect": marks["collected"] - start,
                "trials": marks["item"] - marks["collected"], "after_last": ended - marks["item"],
                "finish": marks["summary"] - marks["finish"], "exit": ended - marks["unconfigure"],
                "cpu": usage.ru_utime + usage.ru_stime, "rss_last_mb": marks["item_rss"],
                "rss_mb": usage.ru_maxrss / 1024,
                "reports_mb": _bytes(root / "reports") / 1e6}


def _marks(stderr: str) -> dict[str, float]:
    """The last stamp of each phase (``item``: the last item's), and the peak RSS (MB) by then (``NAME_rss``)."""
    marks: dict[str, float] = {}
    for line in stderr.splitlines():
        if line.startswith("PHASE "):
            _, name, stamp, peak = line.split()
            marks[name], marks[f"{name}_rss"] = float(stamp), float(peak)
    return marks


def _bytes(folder: Path) -> int:
    total = 0
    for parent, _, files in os.walk(folder):  # does not descend into the `latest` link
        total += sum(os.lstat(os.path.join(parent, name)).st_size for name in files)
    return total


def rounds(args: argparse.Namespace, trees: dict[str, Path]) -> dict[str, list[dict[str, float]]]:
    """Every tree once a round, the order alternating; one server process throughout."""
    proc, url = start_server(args.latency)
    found: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    names = list(trees)
    try:
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else list(reversed(names)):
                found[name].append(one_run(url, trees[name], args))
                print(f"round {r + 1} {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in found[name][-1].items()),
                      file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait()
    return found


COLUMNS = [("wall", "wall (s)"), ("collect", "start + collect (s)"), ("trials", "trials (s)"),
           ("after_last", "after the last trial (s)"), ("finish", "session finish: store, reports (s)"),
           ("exit", "exit after unconfigure (s)"), ("cpu", "CPU (s)"),
           ("rss_last_mb", "peak RSS by the last trial (MB)"), ("rss_mb", "peak RSS (MB)"),
           ("reports_mb", "reports (MB)")]


def _cell(key: str, value: float) -> str:
    return f"{value:.0f}" if key.startswith("rss") else f"{value:.2f}"


def document(args: argparse.Namespace, found: dict[str, list[dict[str, float]]], load: str) -> str:
    medians = {name: {k: statistics.median(r[k] for r in runs) for k, _ in COLUMNS} for name, runs in found.items()}
    rows = [f"| {name} | " + " | ".join(_cell(k, m[k]) for k, _ in COLUMNS) + " |" for name, m in medians.items()]
    new = medians["working tree"]
    verdicts = [f"- {label}: {new[key]:.2f} (target <= {limit:g}), {meets(new[key] <= limit)}."
                for key, label, limit in (("after_last", "after the last trial (s)", TARGETS["after_last"]),
                                          ("rss_mb", "peak RSS (MB)", TARGETS["rss_mb"]),
                                          ("reports_mb", "reports (MB)", TARGETS["reports_mb"]))]
    command = "python bench/bench_end_of_run.py" + (f" --baseline-src {args.baseline_src}" if args.baseline_src else "")
    return "\n".join([
        "# End of a large run", "",
        f"Machine: {platform.machine()}, {cores()} cores, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load} at the start. Reproduce: `{command}`.", "",
        f"{args.cases:,} cases x {args.runs} runs ({args.cases * args.runs:,} trials), one `contains` check, "
        f"one request per sample, concurrency {args.concurrency}, FakeOpenAI on loopback at "
        f"{args.latency * 1000:.0f} ms, through `pytest` in a child process; medians of {args.rounds} interleaved "
        "round(s). Phases from a conftest's stamps "
        "(see the script's docstring): *after the last trial* runs from the last item's verdict to the process's "
        "exit; *session finish* is goldband's store flush, series points and reports; *exit* is what follows "
        "pytest_unconfigure (freeing the heap, the interpreter's final collection). Peak RSS and CPU from "
        "`os.wait4`; reports are every file under `reports/` (a `latest` link counts as a link).", "",
        "| tree | " + " | ".join(label for _, label in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS), *rows, "",
        "Targets (issue 14, the working tree):", *verdicts, "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-src", type=Path, help="Another tree's src/ to run side by side (e.g. HEAD's).")
    parser.add_argument("--no-doc", action="store_true", help="Print the table; do not write docs/.")
    args = parser.parse_args()
    trees = {"working tree": ROOT / "src"}
    if args.baseline_src:
        trees = {f"baseline ({args.baseline_src})": args.baseline_src, **trees}
    load = load_average()
    text = document(args, rounds(args, trees), load)
    print(text)
    if not args.no_doc:
        DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
