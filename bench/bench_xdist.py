"""pytest-xdist and collection (issue 14, part 4 and the collection target).

    python bench/bench_xdist.py                       # writes docs/bench-xdist.md
    python bench/bench_xdist.py --rounds 1 --out -    # a quick look, printed only

1. The bundled demo (this repository's goldensets/, replayed from its cassettes: all CPU, no waiting), through
   ``pytest`` serial, with ``-n 2`` (goldband sets the workers aside: golden sets only) and with
   ``-n 2 --goldband-xdist use`` (two workers, each with its share): wall, the ratio to serial per round
   (target for ``-n 2`` <= 1.2x).
2. Live work: 100 cases x 3 runs, one request per sample, concurrency 20, a loopback FakeOpenAI at 200 ms,
   the same three (target: ``-n 2`` never slower than serial; met when the median ratio is within
   ``NOISE`` of 1, the spread of two identical runs here).
3. Collection of one golden set of 5,000 cases: pytest's own "collected in" figure and the process wall of
   ``pytest --collect-only`` (target <= 1.5 s for the collection).

Every contender runs as a child process; rounds are interleaved (each round runs every contender once) and
medians reported. Child processes may write bytecode caches (``PYTHONDONTWRITEBYTECODE`` is removed from their
environment, as on a user's machine), and one warm-up run precedes the rounds.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_engine import start_server, write_project
from machine import cores, load_average, meets

PY = sys.executable
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PYTEST = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest"]


def timed(cmd: list[str], cwd: Path, expect: str) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=ENV)
    wall = time.perf_counter() - start
    if expect not in out.stdout:
        raise SystemExit(f"{' '.join(cmd)} in {cwd} did not print {expect!r}:\n{out.stdout[-2000:]}\n"
                         f"{out.stderr[-2000:]}")
    return wall, out.stdout


def demo_project(folder: Path) -> Path:
    """A copy of the repository's bundled demo: golden sets, prompts, rubrics, schemas, cassettes, config."""
    for name in ("goldensets", "prompts", "rubrics", "schemas", "cassettes", "goldband.yaml"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name)
        elif source.exists():
            shutil.copy(source, folder / name)
    return folder


def fresh(folder: Path) -> None:
    """No store or reports from the last run: every run records into a new store."""
    shutil.rmtree(folder / ".goldband", ignore_errors=True)
    shutil.rmtree(folder / "reports", ignore_errors=True)


CONTENDERS = {"serial": [], "-n 2": ["-n", "2"], "-n 2 --goldband-xdist use": ["-n", "2", "--goldband-xdist", "use"]}
NOISE = 0.05  # two identical runs differ by up to this share here (median of rounds)


def pair(folder: Path, args: list[str], expect: str, rounds: int) -> dict[str, list[float]]:
    """Serial and both ``-n 2`` runs of the same project, interleaved, each into a fresh store."""
    found: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for i in range(rounds + 1):  # the first round warms the caches and is not counted
        for name, extra in CONTENDERS.items():
            fresh(folder)
            wall, _ = timed([*PYTEST, *extra, *args], folder, expect)
            if i:
                found[name].append(wall)
    return found


def ratio_line(what: str, found: dict[str, list[float]], target: float, target_text: str) -> str:
    """The workload's row: each contender's median wall, ``-n 2``'s and the workers' median ratio to serial."""
    def ratio(name: str) -> float:
        return statistics.median(x / s for s, x in zip(found["serial"], found[name], strict=True))

    walls = " | ".join(f"{statistics.median(found[name]):.2f} s" for name in CONTENDERS)
    aside, workers = ratio("-n 2"), ratio("-n 2 --goldband-xdist use")
    return (f"| {what} | {walls} | {aside:.2f}x | {workers:.2f}x | {target_text}: "
            f"{meets(aside <= target)} |")


def collection(folder: Path, rounds: int) -> tuple[list[float], list[float]]:
    (folder / "goldensets").mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text('def answer(inp):\n    return "Returns are accepted within 30 days."\n')
    (folder / "goldband.yaml").write_text("targets:\n  app:\n    callable: app:answer\n")
    body = "".join(f"  - id: c{i:05d}\n    input: {{question: 'question {i}'}}\n" for i in range(5000))
    (folder / "goldensets" / "big.yaml").write_text(
        f"name: big\nversion: 1\ntargets: [app]\ndefaults:\n  runs: 5\n  checks:\n    - contains: '30 days'\n"
        f"cases:\n{body}")
    inside, walls = [], []
    for i in range(rounds + 1):
        wall, out = timed([*PYTEST, "--collect-only", "goldensets"], folder, "5000 tests collected")
        if i:
            walls.append(wall)
            inside.append(float(re.search(r"collected in ([0-9.]+)s", out).group(1)))  # type: ignore[union-attr]
    return inside, walls


def live(folder: Path, rounds: int) -> dict[str, list[float]]:
    proc, url = start_server(0.2)
    try:
        write_project(folder, url, cases=100, runs=3, concurrency=20, supports_n=False)
        return pair(folder, ["goldensets"], "100 passed", rounds)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "docs" / "bench-xdist.md"), help="'-' to print only")
    args = parser.parse_args()
    start_load = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        demo = pair(demo_project(base / "demo"), ["goldensets"], "passed", args.rounds)
        work = live(base / "live", args.rounds)
        inside, walls = collection(base / "collect", args.rounds)
    lines = [
        "# pytest-xdist and collection", "",
        f"Machine: {cores()} cores, Python {sys.version.split()[0]}, load average {start_load} at the start and "
        f"{load_average()} at the end; {time.strftime('%Y-%m-%d')}. Reproduce: `python bench/bench_xdist.py "
        f"--rounds {args.rounds}`. Medians of {args.rounds} interleaved rounds after one warm-up round; child "
        "processes keep bytecode caches, as on a user's machine.", "",
        "| workload | serial | `-n 2` | `-n 2 --goldband-xdist use` | `-n 2` / serial | workers / serial "
        "| target (`-n 2`) |", "|---|---|---|---|---|---|---|",
        ratio_line("bundled demo (replayed: all CPU), `pytest goldensets`", demo, 1.2, "<= 1.2x"),
        ratio_line("100 cases x 3, one request per sample, 200 ms, concurrency 20", work, 1 + NOISE,
                   f"never slower than serial (within {NOISE:.0%})"), "",
        "Ratios are medians of the per-round ratios. `-n 2` over golden sets only runs in one process and says "
        "so (`goldband.plugin.xdist`, IN_PROCESS); `--goldband-xdist use` starts the two workers, each with its "
        "share of the golden items submitted at once, and pays their start-up: two more interpreters importing "
        "pytest and goldband and collecting every item.", "",
        f"Collection of a 5,000-case golden set (`pytest --collect-only`): **{statistics.median(inside):.2f} s** "
        f"by pytest's own count (target <= 1.5 s: {meets(statistics.median(inside) <= 1.5)}); the whole process "
        f"{statistics.median(walls):.2f} s (interpreter start and imports included).", "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out != "-":
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
