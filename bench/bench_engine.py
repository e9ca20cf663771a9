"""Engine benchmarks: end-to-end pytest wall time, client CPU per call, plugin import cost.

    python bench/bench_engine.py              # writes docs/bench-engine.md
    python bench/bench_engine.py --section 2  # one section; the others are kept as they are

1. 100 cases x 3 runs, a ``contains`` check, concurrency 20, against the
   loopback server at 200 ms latency, run end to end through ``pytest`` in a
   child process (process start included). Ideal: 300 calls / 20 in flight x
   0.2 s = 3.0 s. Measured twice: one request per sample (the workload the
   ideal describes) and goldband's default (``n=3`` in one request).
2. Client CPU per call at zero latency, 50 in flight, server in another process,
   side by side in interleaved rounds (medians): the lean path, the openai SDK
   and litellm through goldband's engine, and the bare openai SDK on aiohttp
   without goldband (``asyncio.gather`` under a semaphore).
3. The plugin's import cost in ``pytest --collect-only``: with and without
   ``-p no:goldband`` in a project without golden sets, median of repeats.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import cores, load_average, meets

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def start_server(latency: float, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """A FakeOpenAI on a free loopback port in its own process (``env``: its environment) and its URL."""
    proc = subprocess.Popen([PY, "-m", "goldband.testing.fake_openai", "--port", "0", "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    return proc, url


def write_project(root: Path, url: str, *, cases: int, runs: int, concurrency: int, supports_n: bool,
                  client: str = "auto") -> None:  # auto: what a user gets (the lean client)
    (root / "goldensets").mkdir(parents=True, exist_ok=True)
    (root / "p.j2").write_text("Answer briefly: {{ question }}")
    (root / "goldband.yaml").write_text(
        f"mode: live\nconcurrency: {concurrency}\ntargets:\n  t:\n    model: openai/fake-model\n"
        f"    prompt: p.j2\n    client: {client}\n    api_base: {url}\n    supports_n: {str(supports_n).lower()}\n"
        "    params: {temperature: 0.5, seed: 1, max_tokens: 20}\n")
    body = "".join(f"  - id: case-{i}\n    input: {{question: 'question {i}'}}\n" for i in range(cases))
    (root / "goldensets" / "bench.yaml").write_text(
        f"name: bench\nversion: 1\ndefaults:\n  runs: {runs}\n  checks: [{{contains: 'echo'}}]\ncases:\n{body}")


def end_to_end(supports_n: bool) -> dict[str, float]:
    proc, url = start_server(0.2)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_project(root, url, cases=100, runs=3, concurrency=20, supports_n=supports_n)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            # hypothesis's plugin (from our test extra) imports hypothesis at session end: not ours
            args = ["-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "goldensets"]
            out = subprocess.run([PY, "-m", "pytest", *args], cwd=root, capture_output=True, text=True)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if out.returncode != 0 or "100 passed" not in out.stdout:
                raise SystemExit(f"benchmark run failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    finally:
        proc.terminate()
        proc.wait()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "ratio": wall / 3.0, "cpu": cpu, "rss_mb": after.ru_maxrss / 1024}


PHASE_HOOKS = """
import os, sys, time
T0 = float(os.environ["BENCH_T0"])
def _say(what): print(f"PHASE {what} {time.time() - T0:.2f}", file=sys.stderr)
def pytest_sessionstart(session): _say("sessionstart")
def pytest_collection_finish(session): _say("collected")
def pytest_sessionfinish(session): _say("sessionfinish")
"""


def phases() -> dict[str, float]:
    """Where the one-request-per-sample run spends its wall time (a conftest stamps the phases)."""
    proc, url = start_server(0.2)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_project(root, url, cases=100, runs=3, concurrency=20, supports_n=False)
            (root / "conftest.py").write_text(PHASE_HOOKS)
            start = time.time()
            out = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                                  "goldensets"], cwd=root, capture_output=True, text=True,
                                 env={**os.environ, "BENCH_T0": str(start)})
            total = time.time() - start
    finally:
        proc.terminate()
        proc.wait()
    stamps = dict(line.split()[1:] for line in out.stderr.splitlines() if line.startswith("PHASE"))
    marks = {k: float(v) for k, v in stamps.items()}
    return {"start": marks["sessionstart"], "collect": marks["collected"] - marks["sessionstart"],
            "trials and verdicts": marks["sessionfinish"] - marks["collected"],
            "store, reports, exit": total - marks["sessionfinish"]}


CPU_IN_FLIGHT = 50


def engine_cpu(url: str, calls: int, *, client: str) -> float:
    """CPU ms per call in this process through goldband's Engine (server in another process).

    The Engine's loop thread counts too (``process_time`` covers every thread). 50 warm-up
    calls first: imports, connections.
    """
    from goldband.config.project import Endpoint
    from goldband.engine.scheduler import Engine

    point = Endpoint(model="openai/fake-model", api_base=url, client=client, supports_n=False, max_retries=0,
                     params={"temperature": 0.5, "seed": 1, "max_tokens": 20})
    engine = Engine(concurrency=CPU_IN_FLIGHT, seed=0)
    try:
        run_engine(engine, point, CPU_IN_FLIGHT, "warm")
        cpu0 = time.process_time()
        run_engine(engine, point, calls, "question")
        return (time.process_time() - cpu0) / calls * 1000
    finally:
        engine.close()


def run_engine(engine: Any, point: Any, calls: int, word: str) -> None:
    from goldband.engine.providers import Call

    futures = [engine.submit(engine.generate(Call(point.model, [{"role": "user", "content": f"{word} {i}"}],
                                                  point.params, point), [0])) for i in range(calls)]
    failed = sum(s.failure is not None for f in futures for s in f.result())
    if failed:
        raise SystemExit(f"{failed} calls failed during the CPU benchmark ({point.client})")


def bare_sdk_cpu(url: str, calls: int) -> float:
    """CPU ms per call of the openai SDK alone on its aiohttp transport: asyncio.gather under a semaphore."""
    import asyncio

    import openai

    async def main() -> float:
        client = openai.AsyncOpenAI(base_url=url, api_key="not-needed", max_retries=0,
                                    http_client=openai.DefaultAioHttpClient())
        limit = asyncio.Semaphore(CPU_IN_FLIGHT)

        async def one(text: str) -> None:
            async with limit:
                await client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": text}],
                                                     temperature=0.5, seed=1, max_tokens=20)

        await asyncio.gather(*(one(f"warm {i}") for i in range(CPU_IN_FLIGHT)))
        cpu0 = time.process_time()
        await asyncio.gather(*(one(f"question {i}") for i in range(calls)))
        cpu = time.process_time() - cpu0
        await client.close()
        return cpu / calls * 1000

    return asyncio.run(main())


CPU_PATHS = {  # label -> (path key, calls per round)
    "lean path (`client: http`, default for `openai/...`), goldband engine": ("http", 2000),
    "openai SDK on aiohttp (`client: openai`), goldband engine": ("openai", 2000),
    "bare openai SDK on aiohttp, no goldband (gather + semaphore)": ("bare", 2000),
    "litellm (`client: litellm`), goldband engine": ("litellm", 400),
}


def measure_cpu(path: str, url: str, calls: int) -> float:
    """One path's CPU ms per call, in this process (what a ``--cpu`` child runs)."""
    sys.path.insert(0, str(ROOT / "src"))
    return bare_sdk_cpu(url, calls) if path == "bare" else engine_cpu(url, calls, client=path)


def cpu_in_child(path: str, url: str, calls: int) -> float:
    """A fresh interpreter per measurement, so each path carries only its own imports and heap."""
    out = subprocess.run([PY, __file__, "--cpu", path, "--url", url, "--calls", str(calls)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"CPU benchmark of {path} failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.split()[-1])


def client_cpu_rounds(rounds: int) -> dict[str, list[float]]:
    """Every path once per round, the order rotated each round, one server process throughout."""
    proc, url = start_server(0.0)
    samples: dict[str, list[float]] = {label: [] for label in CPU_PATHS}
    labels = list(CPU_PATHS)
    try:
        for r in range(rounds):
            for label in labels[r % len(labels):] + labels[:r % len(labels)]:
                path, calls = CPU_PATHS[label]
                samples[label].append(cpu_in_child(path, url, calls))
                print(f"round {r + 1}: {path}: {samples[label][-1]:.3f} ms", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait()
    return samples


def section_2(rounds: int = 5) -> list[str]:
    """Client CPU per call, side by side: medians over interleaved rounds, ratios to the bare SDK."""
    load = load_average()
    samples = client_cpu_rounds(rounds)
    medians = {label: statistics.median(values) for label, values in samples.items()}
    by_path = {CPU_PATHS[label][0]: value for label, value in medians.items()}
    bare, lean = by_path["bare"], by_path["http"]
    per_round = {CPU_PATHS[label][0]: values for label, values in samples.items()}
    wins = sum(h < min(b, o) for h, b, o in zip(per_round["http"], per_round["bare"], per_round["openai"], strict=True))
    rows = [f"| {label} | {CPU_PATHS[label][1]} | {medians[label]:.3f} | {medians[label] / bare:.2f}x | "
            f"{min(values):.3f}-{max(values):.3f} |" for label, values in samples.items()]
    return [
        "## Client CPU per call at zero latency (50 in flight, server in another process)",
        "",
        f"Reproduce: `python bench/bench_engine.py --section 2`. {rounds} interleaved rounds (every path once a "
        f"round, order rotated), medians; load average {load} at the start, {cores()} cores. Each measurement "
        "runs in a fresh Python process (only that path's imports and heap); CPU is its `time.process_time()` "
        "(every thread, the engine's loop included) over the calls after 50 warm-up calls, divided by the "
        "calls; one request per call (`n` = 1), params `temperature`, `seed`, `max_tokens`.",
        "",
        "| path | calls per round | CPU ms per call (median) | vs bare SDK | range over rounds |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Target: lean path <= 0.5 ms per call and below the bare SDK: {lean:.3f} ms, "
        f"{lean / bare:.2f}x the bare SDK, {meets(lean <= 0.5 and lean < bare)}. The lean path used less CPU than "
        f"both SDK paths in {wins} of {rounds} rounds. On a shared machine the absolute numbers move with the "
        "load (see the range); compare paths within this table, not across runs.",
        "",
    ]


def collect_only_ms(with_plugin: bool, repeats: int = 15) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "test_x.py").write_text("def test_x():\n    pass\n")
        args = [PY, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        if not with_plugin:
            args += ["-p", "no:goldband"]
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(args, cwd=tmp, capture_output=True, check=True)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def plugin_import_ms(repeats: int = 15) -> float:
    """``import goldband.plugin`` alone (after pytest), from ``-X importtime``: median of repeats."""
    times = []
    for _ in range(repeats):
        out = subprocess.run([PY, "-X", "importtime", "-c", "import pytest; import goldband.plugin"],
                             capture_output=True, text=True, check=True)
        line = next(x for x in out.stderr.splitlines() if x.rstrip().endswith("| goldband.plugin"))
        times.append(int(line.split("|")[1]) / 1000)  # cumulative microseconds -> ms
    return statistics.median(times)


def section_1() -> list[str]:
    per_sample = end_to_end(supports_n=False)
    split = phases()
    batched = end_to_end(supports_n=True)
    return [
        "## End to end: 100 cases x 3 runs, concurrency 20, server latency 200 ms, through `pytest`",
        "",
        "Ideal 3.0 s = 300 calls / 20 in flight x 0.2 s. Process start, collection and reporting included.",
        "",
        "| requests | wall (s) | ratio to 3.0 s | CPU (s) | peak RSS (MB) |",
        "|---|---|---|---|---|",
        f"| one per sample (300) | {per_sample['wall']:.2f} | {per_sample['ratio']:.2f}x | "
        f"{per_sample['cpu']:.2f} | {per_sample['rss_mb']:.0f} |",
        f"| `n=3` per case (100, default) | {batched['wall']:.2f} | {batched['ratio']:.2f}x | "
        f"{batched['cpu']:.2f} | {batched['rss_mb']:.0f} |",
        "",
        "Where the one-request-per-sample run's wall time goes (one run): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in split.items()) + ".",
        "",
    ]


def section_3() -> list[str]:
    import_cost = statistics.median(collect_only_ms(True) - collect_only_ms(False) for _ in range(3))
    import_ms = plugin_import_ms()
    return [
        "## Plugin import cost",
        "",
        f"`import goldband.plugin` (after pytest, `python -X importtime`, median of 15): {import_ms:.1f} ms. "
        f"`pytest --collect-only` in a project without golden sets, median of 15 runs x 3: "
        f"{import_cost:+.0f} ms with goldband installed vs `-p no:goldband` (at the level of run-to-run noise).",
        "",
    ]


SECTIONS = {1: section_1, 2: section_2, 3: section_3}
DOC = ROOT / "docs" / "bench-engine.md"


def header() -> list[str]:
    return ["# Engine benchmarks", "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d')}. Reproduce: `python bench/bench_engine.py` (all sections) or "
            "`python bench/bench_engine.py --section N` (one section, the others kept as they are).", ""]


def splice(text: str, number: int, lines: list[str]) -> str:
    """The document with section ``number`` (its ``## `` heading up to the next) replaced by ``lines``."""
    parts = text.split("\n## ")
    if len(parts) <= number:
        raise SystemExit(f"{DOC}: expected at least {number} '## ' sections, found {len(parts) - 1}; "
                         "run all sections once (no --section) to rebuild it")
    parts[number] = "\n".join(lines).removeprefix("## ").rstrip("\n") + "\n"
    return "\n## ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--section", type=int, choices=sorted(SECTIONS), help="run one section only")
    parser.add_argument("--cpu", choices=sorted({p for p, _ in CPU_PATHS.values()}), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=2000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cpu:  # one measurement of section 2, in a child process
        print(f"{measure_cpu(args.cpu, args.url, args.calls):.6f}")
        return
    if args.section is None:
        text = "\n".join([*header(), *(line for run in SECTIONS.values() for line in run())])
    else:
        text = splice(DOC.read_text(), args.section, SECTIONS[args.section]())
    print(text)
    DOC.write_text(text)


if __name__ == "__main__":
    main()
