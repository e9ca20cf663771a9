"""Peer benchmark (issue 14): goldband beside a bare asyncio + openai client, promptfoo, Inspect AI and DeepEval.

    python bench/bench_peers.py --workload a --rounds 3 \\
        --promptfoo /work/scratch/peers/promptfoo/node_modules/.bin/promptfoo \\
        --inspect-python /work/scratch/peers/inspect/bin/python \\
        --deepeval-python /work/scratch/peers/deepeval/bin/python --out docs/bench-peers.md
    python bench/bench_peers.py --workload b --rounds 3 --out docs/bench-peers.md --append   # at scale
    python bench/bench_peers.py --cases 5 --rounds 1             # a smoke run: seconds

Every tool answers the same question on the same loopback server (``python -m goldband.testing.fake_openai``,
one server process per workload, replying ``echo: <prompt>``): N cases x R repeats of "Answer briefly:
question i", a ``contains 'echo'`` check, the same concurrency, temperature 0.5, seed 1, max_tokens 20.

Workloads: (a) 100 cases x 3 repeats, 200 ms latency, concurrency 20; (b) 5,000 cases x 5 repeats, 20 ms,
concurrency 64. ``--cases``, ``--runs``, ``--latency`` and ``--concurrency`` override the preset.

Contenders, each a child process timed from spawn to exit (interpreter start and imports included):

- bare client: ``asyncio`` + ``openai.AsyncOpenAI`` and a semaphore, the floor any tool is measured against;
  one request per sample (N x R requests) and, as goldband's default does, ``n=R`` in one request (N requests).
- goldband: ``pytest`` in a fresh temp project (goldband.yaml, a golden set, a prompt; store and reports on,
  as a user runs it), ``supports_n: false`` (one request per sample) and the default (``n=R`` per case). A
  conftest stamps the time of the last case's report, so the table also says how long the run took after
  its last case had its verdict (store, reports, exit).
- promptfoo (``--promptfoo``, the ``promptfoo`` executable): ``promptfoo eval`` with the ``openai:chat``
  provider at ``apiBaseUrl``, ``--repeat R``, ``-j C``, ``--no-cache`` (a cache would answer the repeats),
  its result database in the temp folder; telemetry and update checks off.
- Inspect AI (``--inspect-python``): ``inspect_ai.eval`` of a Task (``generate()``, the ``includes()``
  scorer) with ``epochs=R``, model ``openai-api/bench/fake-model`` (its generic OpenAI-compatible
  provider: ``BENCH_BASE_URL``, ``BENCH_API_KEY``), ``max_connections=max_samples=C``, display off; it
  writes its log file as it does by default.
- DeepEval (``--deepeval-python``): the app's replies fetched with ``AsyncOpenAI`` under a semaphore of C
  (DeepEval does not call the model under test itself), then ``deepeval.evaluate`` with a ``BaseMetric``
  that checks ``contains``, ``AsyncConfig(max_concurrent=C)``, printing off, telemetry opted out; twice:
  as it runs by default (its cache and result files under ``.deepeval/``) and with those writes off
  (``CacheConfig(write_cache=False)``, ``DEEPEVAL_FILE_SYSTEM=READ_ONLY``).

Peers make one request per sample; their ratio is to the bare client's one-request-per-sample run, and
goldband's ``n=R`` run is compared with the bare client's ``n=R`` run. Rounds are interleaved (each round
runs every contender once, the order rotated by one each round; one uncounted warm-up run of each on two
cases comes first); the tables give medians over rounds, and the ratio is the median of the per-round
ratios to the bare client in the same round. CPU is user + system of the child and the children it waited
for (``os.wait4``); peak RSS is the largest resident set among them.

Installing the peers (separate environments, never the project's venv)::

    mkdir -p /work/scratch/peers/promptfoo && npm install --prefix /work/scratch/peers/promptfoo promptfoo
    python -m venv /work/scratch/peers/inspect && /work/scratch/peers/inspect/bin/pip install inspect-ai openai
    python -m venv /work/scratch/peers/deepeval && /work/scratch/peers/deepeval/bin/pip install deepeval

A peer whose flag is not given is skipped, and the output says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_engine import start_server, write_project
from machine import cores, load_average

PY = sys.executable
SRC = [ROOT / "src"]  # the goldband source the children import (``--src``: a frozen copy of a moving tree)
PARAMS = {"temperature": 0.5, "seed": 1, "max_tokens": 20}
API_KEY = "sk-bench"
CHILD_TIMEOUT_S = 1800.0
WORKLOADS = {
    "a": {"cases": 100, "runs": 3, "latency": 0.2, "concurrency": 20},
    "b": {"cases": 5000, "runs": 5, "latency": 0.02, "concurrency": 64},
}
INSTALL = [
    "mkdir -p /work/scratch/peers/promptfoo && npm install --prefix /work/scratch/peers/promptfoo promptfoo",
    "python -m venv /work/scratch/peers/inspect && /work/scratch/peers/inspect/bin/pip install inspect-ai openai",
    "python -m venv /work/scratch/peers/deepeval && /work/scratch/peers/deepeval/bin/pip install deepeval",
]

# -- the child programs (each prints "BENCH passed K of M") ---------------------------------------------

BARE = r'''
import asyncio, os, sys
from openai import AsyncOpenAI

CASES, RUNS, CONCURRENCY, BATCHED = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "n"
PARAMS = {"temperature": 0.5, "seed": 1, "max_tokens": 20}


async def main():
    client = AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    gate = asyncio.Semaphore(CONCURRENCY)

    async def ask(i, n):
        extra = {"n": n} if n > 1 else {}
        async with gate:
            reply = await client.chat.completions.create(
                model="fake-model", messages=[{"role": "user", "content": f"Answer briefly: question {i}"}],
                **PARAMS, **extra)
        return sum("echo" in (choice.message.content or "") for choice in reply.choices)

    jobs = [ask(i, RUNS) for i in range(CASES)] if BATCHED else [
        ask(i, 1) for i in range(CASES) for _ in range(RUNS)]
    passed = sum(await asyncio.gather(*jobs))
    await client.close()
    print(f"BENCH passed {passed} of {CASES * RUNS}")


asyncio.run(main())
'''

INSPECT = r'''
import sys
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes
from inspect_ai.solver import generate

CASES, RUNS, CONCURRENCY, LOG_DIR = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
task = Task(dataset=[Sample(id=i, input=f"Answer briefly: question {i}", target="echo") for i in range(CASES)],
            solver=generate(), scorer=includes())
log = eval(task, model="openai-api/bench/fake-model", epochs=RUNS, max_connections=CONCURRENCY,
           max_samples=CONCURRENCY, display="none", log_dir=LOG_DIR, temperature=0.5, seed=1, max_tokens=20)[0]
if log.status != "success":
    sys.exit(f"inspect eval ended {log.status}: {log.error}")
accuracy = log.results.scores[0].metrics["accuracy"].value
print(f"BENCH passed {round(accuracy * CASES * RUNS)} of {CASES * RUNS}")
'''

DEEPEVAL = r'''
import asyncio, os, sys
from openai import AsyncOpenAI
from deepeval import evaluate
from deepeval.evaluate import AsyncConfig, CacheConfig, DisplayConfig
from deepeval.metrics import BaseMetric
from deepeval.test_case import LLMTestCase

CASES, RUNS, CONCURRENCY, WRITES = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "writes"


class Contains(BaseMetric):
    """A deterministic check: the reply contains the expected text (no judge model)."""

    def __init__(self, text):
        self.text, self.threshold, self.async_mode = text, 1.0, True
        self.include_reason, self.verbose_mode = False, False

    def measure(self, test_case, *args, **kwargs):
        self.score = float(self.text in (test_case.actual_output or ""))
        self.success = self.score >= self.threshold
        return self.score

    async def a_measure(self, test_case, *args, **kwargs):
        return self.measure(test_case)

    def is_successful(self):
        return self.success

    @property
    def __name__(self):
        return "Contains"


async def replies():
    client = AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
    gate = asyncio.Semaphore(CONCURRENCY)

    async def app(question):
        async with gate:
            reply = await client.chat.completions.create(
                model="fake-model", messages=[{"role": "user", "content": question}],
                temperature=0.5, seed=1, max_tokens=20)
        return LLMTestCase(input=question, actual_output=reply.choices[0].message.content)

    cases = await asyncio.gather(*(app(f"Answer briefly: question {i}") for i in range(CASES) for _ in range(RUNS)))
    await client.close()
    return cases


result = evaluate(asyncio.run(replies()), metrics=[Contains("echo")],
                  async_config=AsyncConfig(max_concurrent=CONCURRENCY),
                  display_config=DisplayConfig(print_results=False, show_indicator=False, inspect_after_run=False),
                  cache_config=CacheConfig(write_cache=WRITES))
print(f"BENCH passed {sum(r.success for r in result.test_results)} of {CASES * RUNS}")
'''

STAMP_HOOKS = """
import sys, time
_LAST = [0.0]
def pytest_runtest_logreport(report):
    if report.when == "call":
        _LAST[0] = time.time()
def pytest_unconfigure(config):
    print(f"BENCH last-case {_LAST[0]:.6f}", file=sys.stderr)
"""

# -- measuring one child --------------------------------------------------------------------------------


@dataclass
class Measure:
    """One contender's run in one round."""

    wall: float
    cpu: float
    rss_mb: float
    after_last: float | None = None  # goldband: seconds from the last case's report to exit


def run_child(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float, float, str]:
    """Spawn, wait with ``os.wait4``: (start, end) epoch seconds, CPU s, peak RSS MB and output; fails loudly."""
    log = cwd / "child.log"
    with log.open("wb") as out:
        start = time.time()
        child = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 env=env)
        killer = threading.Timer(CHILD_TIMEOUT_S, child.kill)
        killer.start()
        _, status, usage = os.wait4(child.pid, 0)
        end = time.time()
        killer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} ... exited {child.returncode} in {cwd}:\n{text[-3000:]}")
    return start, end, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def passed(text: str, expected: int, who: str) -> None:
    """Every contender must report all samples passing: a run that checked nothing measures nothing."""
    line = next((x for x in text.splitlines() if x.startswith("BENCH passed")), None)
    if line != f"BENCH passed {expected} of {expected}":
        raise SystemExit(f"{who}: expected 'BENCH passed {expected} of {expected}', got {line!r}:\n{text[-2000:]}")


# -- contenders -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    cases: int
    runs: int
    latency: float
    concurrency: int


@dataclass
class Contender:
    """A tool in one request shape; ``launch`` prepares a fresh folder and returns argv and env."""

    name: str
    requests: str  # "sample" (one request per sample) or "n" (n=R in one request)
    launch: Callable[[Path, str, Work], tuple[list[str], dict[str, str]]]
    verify: Callable[[str, Work, str], float | None]  # checks the output; returns the last-case stamp if any
    rounds: list[Measure] = field(default_factory=list)


def base_env(url: str) -> dict[str, str]:
    return {**os.environ, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": API_KEY, "PYTHONPATH": str(SRC[0])}


def bare(requests: str) -> Contender:
    def launch(root: Path, url: str, w: Work) -> tuple[list[str], dict[str, str]]:
        (root / "bare.py").write_text(BARE)
        return [PY, "bare.py", str(w.cases), str(w.runs), str(w.concurrency), requests], base_env(url)

    return Contender("bare asyncio + openai", requests, launch, lambda t, w, who: passed(t, w.cases * w.runs, who))


def goldband(requests: str) -> Contender:
    def launch(root: Path, url: str, w: Work) -> tuple[list[str], dict[str, str]]:
        write_project(root, url, cases=w.cases, runs=w.runs, concurrency=w.concurrency,
                      supports_n=requests == "n")
        (root / "conftest.py").write_text(STAMP_HOOKS)
        # hypothesis's plugin (from our test extra) imports hypothesis at session end: not ours
        return [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                "goldensets"], base_env(url)

    def verify(text: str, w: Work, who: str) -> float:
        if not re.search(rf"\b{w.cases} passed\b", text):
            raise SystemExit(f"{who}: expected '{w.cases} passed' in pytest's output:\n{text[-2000:]}")
        return float(next(x.split()[2] for x in text.splitlines() if x.startswith("BENCH last-case")))

    return Contender("goldband (pytest)", requests, launch, verify)


def promptfoo(exe: str) -> Contender:
    def launch(root: Path, url: str, w: Work) -> tuple[list[str], dict[str, str]]:
        config = {"prompts": ["Answer briefly: {{question}}"],
                  "providers": [{"id": "openai:chat:fake-model",
                                 "config": {"apiBaseUrl": url, "apiKey": API_KEY, **PARAMS}}],
                  "tests": [{"vars": {"question": f"question {i}"}, "assert": [{"type": "contains", "value": "echo"}]}
                            for i in range(w.cases)]}
        (root / "promptfooconfig.yaml").write_text(json.dumps(config))  # JSON is YAML
        env = {**base_env(url), "PROMPTFOO_CONFIG_DIR": str(root / ".promptfoo"), "PROMPTFOO_DISABLE_TELEMETRY": "1",
               "PROMPTFOO_DISABLE_UPDATE": "1", "NO_COLOR": "1"}
        return [exe, "eval", "-c", "promptfooconfig.yaml", "--repeat", str(w.runs), "-j", str(w.concurrency),
                "--no-cache", "--no-table", "--no-progress-bar", "--no-share"], env

    def verify(text: str, w: Work, who: str) -> None:
        # promptfoo exits non-zero when an assertion fails; its summary counts the passes ("300 passed (100%)")
        if f"{w.cases * w.runs} passed (100%)" not in text.replace(",", ""):
            raise SystemExit(f"{who}: expected '{w.cases * w.runs} passed (100%)' in its output:\n{text[-2000:]}")

    return Contender("promptfoo", "sample", launch, verify)


def inspect_ai(python: str) -> Contender:
    def launch(root: Path, url: str, w: Work) -> tuple[list[str], dict[str, str]]:
        (root / "inspect_bench.py").write_text(INSPECT)
        env = {**base_env(url), "BENCH_BASE_URL": url, "BENCH_API_KEY": API_KEY}
        env.pop("PYTHONPATH")
        return [python, "inspect_bench.py", str(w.cases), str(w.runs), str(w.concurrency), str(root / "logs")], env

    return Contender("Inspect AI", "sample", launch, lambda t, w, who: passed(t, w.cases * w.runs, who))


def deepeval(python: str, writes: bool = True) -> Contender:
    """DeepEval as it runs by default (cache and result files under .deepeval/), or with those writes off."""

    def launch(root: Path, url: str, w: Work) -> tuple[list[str], dict[str, str]]:
        (root / "deepeval_bench.py").write_text(DEEPEVAL)
        env = {**base_env(url), "DEEPEVAL_TELEMETRY_OPT_OUT": "1", "DEEPEVAL_NO_INSPECT_PROMPT": "1",
               "HOME": str(root), **({} if writes else {"DEEPEVAL_FILE_SYSTEM": "READ_ONLY"})}
        env.pop("PYTHONPATH")
        return [python, "deepeval_bench.py", str(w.cases), str(w.runs), str(w.concurrency),
                "writes" if writes else "nowrite"], env

    name = "DeepEval evaluate()" if writes else "DeepEval evaluate(), file writes off"
    return Contender(name, "sample", launch, lambda t, w, who: passed(t, w.cases * w.runs, who))


# -- rounds -----------------------------------------------------------------------------------------------


def measure(contender: Contender, url: str, w: Work) -> Measure:
    """One run of one contender in a fresh temp folder."""
    who = f"{contender.name} ({contender.requests})"
    with tempfile.TemporaryDirectory(prefix="gb-peers-") as tmp:
        root = Path(tmp)
        argv, env = contender.launch(root, url, w)
        start, end, cpu, rss, text = run_child(argv, root, env)
    stamp = contender.verify(text, w, who)
    return Measure(end - start, cpu, rss, None if stamp is None else end - stamp)


def run_rounds(contenders: list[Contender], url: str, w: Work, rounds: int) -> None:
    """Each round runs every contender once; the order rotates by one each round.

    A warm-up run of each on two cases comes first and is not counted: a freshly installed peer compiles
    its .pyc files on first import, which would be billed to whichever round ran it first.
    """
    for contender in contenders:
        measure(contender, url, Work(2, 1, w.latency, w.concurrency))
    for r in range(rounds):
        shift = r % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            contender.rounds.append(measure(contender, url, w))
            print(f"round {r + 1}: {contender.name} ({contender.requests}) {contender.rounds[-1].wall:.2f} s",
                  file=sys.stderr)


# -- the report ---------------------------------------------------------------------------------------------


def ratio(contender: Contender, floor: Contender, key: str) -> float:
    """Median over rounds of this contender's value over the bare client's in the same round."""
    return statistics.median(getattr(m, key) / getattr(b, key) for m, b in zip(contender.rounds, floor.rounds,
                                                                              strict=True))


def row(contender: Contender, floor: Contender) -> str:
    rs = contender.rounds
    after = [m.after_last for m in rs if m.after_last is not None]
    shape = "one per sample" if contender.requests == "sample" else "`n` per case"
    cells = [contender.name, shape, f"{statistics.median(m.wall for m in rs):.2f}",
             f"{ratio(contender, floor, 'wall'):.2f}x", f"{statistics.median(m.cpu for m in rs):.2f}",
             f"{ratio(contender, floor, 'cpu'):.2f}x", f"{statistics.median(m.rss_mb for m in rs):.0f}",
             f"{statistics.median(after):.2f}" if after else "-", " / ".join(f"{m.wall:.2f}" for m in rs)]
    return "| " + " | ".join(cells) + " |"


def commit() -> str:
    """The checked-out commit, read from .git (the numbers belong to it; the tree may carry more)."""
    git = ROOT / ".git"
    head = (git / "HEAD").read_text().strip()
    if not head.startswith("ref: "):
        return head[:12]
    ref = head[5:]
    if (git / ref).exists():
        return (git / ref).read_text().strip()[:12]
    packed = (git / "packed-refs").read_text().splitlines() if (git / "packed-refs").exists() else []
    return next((x.split()[0][:12] for x in packed if x.endswith(" " + ref)), "unknown")


def version_of(argv: list[str]) -> str:
    """The first line a tool prints for its version, or why there is none."""
    out = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "PROMPTFOO_DISABLE_UPDATE": "1"})
    lines = out.stdout.strip().splitlines()
    return lines[0] if out.returncode == 0 and lines else f"unknown (exit {out.returncode})"


def versions(args: argparse.Namespace) -> str:
    """Which versions were measured: the peers change fast, and their numbers only hold for these."""
    probe = "import sys; from importlib.metadata import version as v; print(' '.join(v(p) for p in sys.argv[1:]))"
    found = [f"openai {version_of([PY, '-c', probe, 'openai'])} (bare client, goldband)"]
    if args.promptfoo:
        node = version_of(["node", "--version"])
        found.append(f"promptfoo {version_of([args.promptfoo, '--version'])} on Node {node}")
    for python, package in ((args.inspect_python, "inspect_ai"), (args.deepeval_python, "deepeval")):
        if python:
            pair = version_of([python, "-c", probe, package, "openai"]).split()
            found.append(f"{package} {pair[0]} (openai {pair[-1]})")
    return ", ".join(found)


def report(contenders: list[Contender], w: Work, rounds: int, skipped: list[str], start: tuple[str, str],
           tools: str) -> list[str]:
    """The Markdown section of one workload; ``start`` is the load average and the commit when it began."""
    load, at = start
    floors = {c.requests: c for c in contenders if c.name.startswith("bare")}
    ideal = w.cases * w.runs / w.concurrency * w.latency
    lines = [
        f"### {w.cases} cases x {w.runs} repeats, `contains`, concurrency {w.concurrency}, "
        f"latency {w.latency * 1000:.0f} ms, {rounds} round(s)",
        "",
        f"{platform.machine()}, {cores()} cores, load average {load} at the start, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; goldband from "
        f"`{SRC[0]}`, the checkout being at commit `{at}` at the start (uncommitted edits in its tree count). "
        f"Ideal for one request per sample: {w.cases * w.runs} calls / {w.concurrency} in flight x "
        f"{w.latency:g} s = {ideal:.2f} s. Versions: {tools}.",
        "",
        "| tool | requests | wall (s) | wall / bare | CPU (s) | CPU / bare | peak RSS (MB) | after last case (s) "
        "| wall per round (s) |",
        "|---|---|---|---|---|---|---|---|---|",
        *(row(c, floors[c.requests]) for c in contenders),
        "",
        "Medians over rounds; `/ bare` is the median of per-round ratios to the bare client with the same "
        "request shape. After last case: from goldband's last case report to process exit (store, reports, exit).",
    ]
    if skipped:
        lines += ["", "Skipped: " + "; ".join(skipped) + "."]
    return [*lines, ""]


# -- main -----------------------------------------------------------------------------------------------------

METHOD = """\
Every tool runs as a child process against the same loopback OpenAI-compatible server
(`python -m goldband.testing.fake_openai`, one server process per workload, replying `echo: <prompt>`), on
the same N cases x R repeats with a `contains 'echo'` check and the same concurrency; each run must report
every sample passing. Rounds are interleaved (each round runs every contender once, the order rotated, after
one uncounted warm-up run of each on two cases); wall time is spawn to exit (interpreter start and imports
included); CPU is user + system of the child and the children it waited for, peak RSS the largest resident
set among them (`os.wait4`). The bare client is `asyncio` + `openai.AsyncOpenAI` with a semaphore: the
floor. goldband runs as `pytest` in a fresh project (store and reports on); promptfoo as
`promptfoo eval --repeat R -j C --no-cache`; Inspect AI as `inspect_ai.eval(..., epochs=R, max_connections=C)`
with its generic `openai-api` provider; DeepEval fetches the replies with `AsyncOpenAI` (it does not call
the model under test itself) and then runs `evaluate()` with a `contains` metric at `max_concurrent=C`, by
default and with its cache and result files off. Peers make one request per sample. The exact settings: the
docstring of `bench/bench_peers.py`."""


NOTES = """\
Reading the numbers:

- The machine is shared: the load average at the start is printed with each table. Ratios are taken within
  a round, which cancels part of the load; absolute seconds do not compare across tables. The ideal leaves
  out process start: the bare client spends about a second starting Python and importing openai.
- Each tool writes what it writes by default: goldband its SQLite store and HTML/JSON reports, promptfoo its
  SQLite results database, Inspect AI its `.eval` log, DeepEval its cache and result files under `.deepeval/`
  (the second DeepEval row turns those off).
- DeepEval does not call the model under test: a DeepEval user fetches the replies (here with `AsyncOpenAI`,
  as the bare client does) and hands them to `evaluate()`, so its floor is the bare client plus the cost of
  `evaluate()`.
- promptfoo 0.121 warns that its support for Node 20 ended; Node 20 is what this machine has, and a newer
  Node may change its numbers.
- goldband's `n` row sends one request with `n=R` per case (its default when the target supports `n`) and is
  compared with the bare client doing the same."""


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="a", help="preset: a (100x3) or b (5000x5)")
    for name, kind in (("cases", int), ("runs", int), ("latency", float), ("concurrency", int)):
        parser.add_argument(f"--{name}", type=kind, default=None, help=f"override the preset's {name}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", choices=["sample", "n", "both"], default="both",
                        help="goldband and the bare client: one request per sample, n=R per case, or both")
    parser.add_argument("--promptfoo", default=None, help="the promptfoo executable (npm install promptfoo)")
    parser.add_argument("--inspect-python", default=None, help="a Python with inspect-ai and openai")
    parser.add_argument("--deepeval-python", default=None, help="a Python with deepeval")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown document here")
    parser.add_argument("--append", action="store_true", help="add this workload's section to an existing --out")
    parser.add_argument("--src", type=Path, default=ROOT / "src",
                        help="the goldband source to measure (default: this checkout's src/)")
    return parser.parse_args(argv)


def work(args: argparse.Namespace) -> Work:
    preset = WORKLOADS[args.workload]
    return Work(*(preset[k] if getattr(args, k) is None else getattr(args, k)
                  for k in ("cases", "runs", "latency", "concurrency")))


def contenders(args: argparse.Namespace) -> tuple[list[Contender], list[str]]:
    shapes = ["sample", "n"] if args.requests == "both" else [args.requests]
    chosen = [make(shape) for shape in shapes for make in (bare, goldband)]
    skipped = []
    for flag, value, makers in (("--promptfoo", args.promptfoo, [promptfoo]),
                                ("--inspect-python", args.inspect_python, [inspect_ai]),
                                ("--deepeval-python", args.deepeval_python,
                                 [deepeval, lambda python: deepeval(python, writes=False)])):
        names = ", ".join(make(PY).name for make in makers)
        if value is None:
            skipped.append(f"{names} (no `{flag}`)")
        elif "sample" not in shapes:
            skipped.append(f"{names} (one request per sample only; `--requests n` was asked)")
        else:
            chosen += [make(value) for make in makers]
    return chosen, skipped


def document(results: list[str]) -> str:
    install = "\n".join(f"    {cmd}" for cmd in INSTALL)
    return "\n".join(["# Peer benchmark: goldband beside a bare client, promptfoo, Inspect AI and DeepEval", "",
                      "Reproduce: `python bench/bench_peers.py --workload a --rounds 3 --promptfoo ... "
                      "--inspect-python ... --deepeval-python ... --out docs/bench-peers.md`, then "
                      "`python bench/bench_peers.py --workload b --rounds 3 --out docs/bench-peers.md --append`.", "",
                      "The peers live in their own environments, never the project's venv:", "", install, "",
                      METHOD, "", "The numbers belong to the goldband commit named beside them; issue 14 "
                      "re-measures them once its other parts land.", "", NOTES, "", *results])


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    SRC[0] = args.src.resolve()
    w, start = work(args), (load_average(), commit())
    chosen, skipped = contenders(args)
    server, url = start_server(w.latency, {**os.environ, "PYTHONPATH": str(SRC[0])})  # the measured source
    try:
        run_rounds(chosen, url, w, args.rounds)
    finally:
        server.terminate()
        server.wait()
    results = report(chosen, w, args.rounds, skipped, start, versions(args))
    print("\n".join(results))
    if args.out is not None and args.append and args.out.exists():
        args.out.write_text(args.out.read_text().rstrip("\n") + "\n\n" + "\n".join(results))
    elif args.out is not None:
        args.out.write_text(document(results))


if __name__ == "__main__":
    main()
