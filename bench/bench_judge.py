"""Judge cost benchmark: judge requests per run, counted at the loopback server.

    python bench/bench_judge.py            # writes docs/bench-judge.md

A 50-case golden set, every case checked by one 3-criterion rubric, run end to end
through ``pytest`` (a child process) in ``live`` mode against ``FakeOpenAI`` in this
process, which counts every request it receives and tells target requests from judge
requests by their system message. Scenarios, each on a fresh project (fresh cache):

1. 1 run per case: one judge request per output, not one per criterion (3x fewer).
2. The same run again, outputs unchanged: the judge cache answers, 0 judge requests.
3. 3 runs per case with the same output each time: one judge request per distinct
   output (repeats share the judgement, concurrent ones share the request).
4. 3 runs per case, 3 distinct outputs, a rubric with ``samples: 3``: one request per
   output carrying ``n=3``.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from goldband.testing import FakeOpenAI

CASES = 50
RUBRIC = """\
name: helpful
version: 1
scale: {min: 1, max: 5}
criteria:
  - {name: addresses-question, weight: 2, description: Answers the question.,
     levels: {1: "not at all", 3: partly, 5: fully}}
  - {name: actionable, weight: 1, description: Gives a next step., levels: {1: none, 5: clear}}
  - {name: concise, weight: 1, description: Short and to the point., levels: {1: rambling, 5: concise}}
pass: 4
"""
REPLY = json.dumps({"criteria": {name: {"reasoning": "fine", "score": 5}
                                 for name in ("addresses-question", "actionable", "concise")}})


def write_project(root: Path, url: str, *, runs: int, samples: int = 1) -> None:
    (root / "goldensets").mkdir(parents=True, exist_ok=True)
    (root / "rubrics").mkdir(exist_ok=True)
    rubric = RUBRIC + (f"samples: {samples}\n" if samples > 1 else "")
    (root / "rubrics" / "helpful.yaml").write_text(rubric)
    (root / "p.j2").write_text("Question: {{ question }}")
    judge_params = "{temperature: 0.7, seed: 1}" if samples > 1 else "{temperature: 0}"
    (root / "goldband.yaml").write_text(
        f"mode: live\nconcurrency: 20\ntargets:\n  t:\n    model: openai/fake-model\n    prompt: p.j2\n"
        f"    api_base: {url}\n    params: {{temperature: 0.5, seed: 1}}\n"
        f"judge:\n  model: openai/judge-model\n  api_base: {url}\n  params: {judge_params}\n")
    body = "".join(f"  - id: case-{i}\n    input: {{question: 'question {i}'}}\n" for i in range(CASES))
    (root / "goldensets" / "bench.yaml").write_text(
        f"name: bench\nversion: 1\ndefaults:\n  runs: {runs}\n  checks: [{{rubric: helpful}}]\ncases:\n{body}")


def run_pytest(root: Path) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pytest", "goldensets", "-q", "-p", "no:cacheprovider",
                          "--goldband-store", "off", "--goldband-report", "off"],
                         cwd=root, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"pytest failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return time.perf_counter() - start, out.stdout


def counts(server: FakeOpenAI) -> dict[str, int]:
    judge = [r.body for r in server.requests if "impartial grader" in json.dumps(r.body)]
    return {"target": server.count - len(judge), "judge": len(judge),
            "judge_n": sum(int(b.get("n") or 1) for b in judge)}


def scenario(server: FakeOpenAI, root: Path, *, outputs: list[str], runs: int, samples: int = 1,
             repeat: bool = False) -> list[dict[str, object]]:
    server.reset()
    server.add_rule(contains='Grade the block named "output"', replies=[REPLY])
    server.add_rule(contains="Question:", replies=outputs)
    write_project(root, server.url, runs=runs, samples=samples)
    rows = []
    for attempt in range(2 if repeat else 1):
        before = counts(server)
        seconds, stdout = run_pytest(root)
        after = counts(server)
        rows.append({"run": attempt + 1, "seconds": seconds, **{k: after[k] - before[k] for k in after},
                     "summary": next((ln for ln in stdout.splitlines() if ln.startswith("goldband judge:")), "")})
    return rows


def main() -> None:
    results: list[tuple[str, int, int, dict[str, object]]] = []
    with FakeOpenAI() as server, tempfile.TemporaryDirectory() as tmp:
        plans = [("1 run per case, then the same run again", ["answer"], 1, 1, True),
                 ("3 runs per case, same output each time", ["answer"], 3, 1, False),
                 ("3 runs per case, 3 distinct outputs, rubric samples: 3", ["a", "b", "c"], 3, 3, False)]
        for i, (name, outputs, runs, samples, repeat) in enumerate(plans):
            for row in scenario(server, Path(tmp) / f"p{i}", outputs=outputs, runs=runs, samples=samples,
                                repeat=repeat):
                results.append((name, runs, samples, row))
    write_report(results)


def write_report(results: list[tuple[str, int, int, dict[str, object]]]) -> None:
    lines = [
        "# Judge cost",
        "",
        f"{CASES} cases, one 3-criterion rubric (`rubric: helpful`), `live` mode, end to end through `pytest` "
        "against the loopback `FakeOpenAI`, which counts every request it receives (judge requests are told "
        "apart by their system message). Each scenario starts from an empty judge cache.",
        "",
        "| scenario | run | outputs judged | target requests | judge requests | judge samples (sum of n) "
        "| judge requests per output | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs, _samples, row in results:
        outputs = CASES * runs
        per = f"{int(row['judge']) / outputs:.2f}"  # type: ignore[call-overload]
        lines.append(f"| {name} | {row['run']} | {outputs} | {row['target']} | {row['judge']} | {row['judge_n']} "
                     f"| {per} | {float(row['seconds']):.1f} |")  # type: ignore[arg-type]
    lines += [
        "",
        "Reading:",
        "",
        "* One judge request scores all three criteria of an output: 50 requests for 50 outputs, where one "
        "request per criterion would send 150.",
        "* Re-running with unchanged outputs sends **0** judge requests: every judgement comes from the judge "
        "cache (here `.goldband/cache/judge.sqlite`: the benchmark runs with the store off; with a store the "
        "cache is its `judge_cache` table), keyed by rubric, judge model and params, input, output and "
        "judge sample index.",
        "* Repeats that produce the same output share one judgement (150 outputs, 50 judge requests); "
        "concurrent identical requests are coalesced before they reach the provider.",
        "* With `samples: 3`, each output's three judge samples come from one request with `n=3`, and each "
        "sample is cached under its own index.",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}.",
        "",
        "Reproduce: `.venv/bin/python bench/bench_judge.py` (writes this file).",
        "",
    ]
    (ROOT / "docs" / "bench-judge.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
