"""A small valid project, seeded mutations of its files, and loading it the way collection does.

Issue 17 measured 333 seeded mutations of goldband.yaml, golden sets, cases JSONL, rubrics,
templates and lock files: 15 hangs, 5 pytest INTERNALERROR crashes, 30 raw tracebacks.
``mutations`` rebuilds that harness (byte flips, truncation, NUL and invalid UTF-8, alias
bombs, deep nesting, huge values, nasty YAML fragments, values of the wrong shape), and
``collect`` loads a project through the same functions a pytest session does.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from goldband.config.settings import Settings
from goldband.errors import GoldbandError
from goldband.session.session import Session

CONFIG = """\
store: .goldband/store.db
mode: replay
concurrency: 4
targets:
  support-v1:
    model: openai/gpt-4o-mini
    prompt: prompts/support.j2
    system: "You answer from the policy only."
    params: {temperature: 0.2, seed: 7, max_tokens: 300}
    api_key_env: OPENAI_API_KEY
    price: {input_per_mtok: 0.15, output_per_mtok: 0.60}
judge:
  model: openai/gpt-4o
  params: {temperature: 0}
  max_error_share: 0.1
"""

PYPROJECT = '[project]\nname = "shop"\n\n[tool.goldband]\nmode = "replay"\nconcurrency = 4\n\n' \
            '[tool.goldband.targets.support-v1]\nmodel = "openai/gpt-4o-mini"\nprompt = "prompts/support.j2"\n' \
            'params = {temperature = 0.2, seed = 7}\n'

SUPPORT = """\
# Support answers: policy questions.
name: support
version: 1
description: Answers to customer questions.
targets: [support-v1]
defaults:
  min_runs: 5
  max_runs: 20
  band: {min_pass_rate: 0.8, confidence: 0.9}
  checks: &common
    - not_contains: "As an AI"
cases:
  - id: refund-window
    input: {question: "Can I return shoes after 40 days?"}
    reference: "Returns are accepted within 30 days."
    tags: [policy]
    provenance: hand-written
    checks:
      - contains: "30 days"
      - rubric: policy
        min_score: 4
  - id: shipping
    input: {question: "Do you ship to Mexico?"}
    runs: 3
    checks:
      - regex: "(?i)us and canada"
      - length: {max: 400}
  - id: order-json
    input: {question: "Give me my order as JSON"}
    checks:
      - json_schema: schemas/answer.json
"""

EXTRACT = """\
name: extract
version: 2
targets: [support-v1]
defaults:
  runs: 11
  checks:
    - json_valid: {}
cases: extract.cases.jsonl
"""

CASES = "\n".join(json.dumps(c) for c in [
    {"id": "return-simple", "input": {"question": "return NW-10234"}, "tags": ["extraction"],
     "checks": [{"json_path": "$.order_id", "value": "NW-10234"}]},
    {"id": "exchange", "input": {"question": "exchange NW-55120"}, "checks": [{"contains": "NW-55120"}]},
    {"id": "status", "input": {"question": "where is NW-30001?"}, "provenance": {"source": "production", "ref": "T-9"}},
]) + "\n"

RUBRIC = """\
name: policy
version: 1
description: Stays inside the written policy.
scale: {min: 1, max: 5}
criteria:
  - name: within-policy
    weight: 2
    description: Everything stated is allowed by the policy.
    levels:
      1: Grants something the policy does not allow.
      3: Hints at something it does not allow.
      5: Strictly within the policy.
  - name: handover
    weight: 1
    description: Hands over what the policy does not cover.
    levels: {1: Improvises., 5: Hands over to a human agent.}
pass: 4
samples: {n: 3, combine: median}
show: {input: true, reference: false}
examples:
  - input: {question: "Give me a coupon."}
    output: "I can't create coupons."
    scores: {within-policy: 5, handover: 5}
"""

TEMPLATE = """\
Policy:
- Returns are accepted within 30 days.
{% if question %}Customer: {{ question | trim }}{% endif %}
{{ "Answer briefly." if question else "" }}
"""

SCHEMA = json.dumps({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "required": ["order_id"],
    "properties": {"order_id": {"type": ["string", "null"], "pattern": "^NW-[0-9]{5}$"},
                   "items": {"type": "array", "items": {"type": "object"}}},
}, indent=1) + "\n"

FILES: dict[str, str] = {
    "goldband.yaml": CONFIG,
    "goldensets/support.yaml": SUPPORT,
    "goldensets/extract.yaml": EXTRACT,
    "goldensets/extract.cases.jsonl": CASES,
    "rubrics/policy.yaml": RUBRIC,
    "prompts/support.j2": TEMPLATE,
    "schemas/answer.json": SCHEMA,
}
LOCKED = ("goldensets/support.lock", "goldensets/extract.lock")  # written by a first load, then mutated too
MUTATED = (*FILES, *LOCKED, "pyproject.toml")  # pyproject.toml: the config moved there from goldband.yaml


def write_project(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def base_files(tmp: Path) -> dict[str, bytes]:
    """The valid project's files, lock files included (recorded by loading it once)."""
    files = {name: text.encode() for name, text in FILES.items()}
    root = write_project(tmp, files)
    plans = collect(root)
    assert plans == 6, plans  # 3 + 3 cases on one target: the project is valid
    return {**files, **{name: (root / name).read_bytes() for name in LOCKED}}


def collect(root: Path) -> int:
    """Load the project as a pytest session does at collection: goldband.yaml (or pyproject.toml) and the
    targets' templates, then each golden set with its cases file, lock, checks, rubrics and schemas, then
    its plans (templates rendered). Returns the number of plans."""
    settings = Settings(rootpath=root, paths=(str(root / "goldensets"),), runs=None, targets=None, mode="replay",
                        concurrency=None, timeout_s=None, worker=False)  # replay: no provider SDK is warmed up
    session = Session.create(settings)
    try:
        return sum(len(session.plans(session.load(path))) for path in sorted((root / "goldensets").glob("*.yaml")))
    finally:
        session.close()


# --- outcomes --------------------------------------------------------------------------------------------

DEADLINE_S = 10.0
MAX_LINE = 2_000  # no line of a message longer than this (values are shortened to ~80 characters)
LOCATED = re.compile(r"[\w./-]+\.(?:ya?ml|jsonl|json|lock|j2|toml):\d+|[\w./-]+\.j2 line \d+")


@dataclass
class Outcome:
    seconds: float
    plans: int | None = None
    error: BaseException | None = None
    trace: str = ""
    hung: bool = False

    def problems(self) -> list[str]:
        """What breaks issue 17's promise: a hang, a non-goldband exception, an unlocated or endless message."""
        if self.hung:
            return [f"no result after {DEADLINE_S:.0f} s"]
        if self.seconds > DEADLINE_S:
            return [f"took {self.seconds:.1f} s"]
        if self.error is None:
            return []
        if not isinstance(self.error, GoldbandError):
            return [f"raised {type(self.error).__name__}:\n{self.trace}"]
        message = str(self.error)
        found = []
        if not LOCATED.search(message):
            found.append(f"no file:line in {message[:300]!r}")
        if any(len(line) > MAX_LINE for line in message.splitlines()):
            found.append(f"a line of {max(len(x) for x in message.splitlines()):,} characters")
        return found


def run_with_deadline(func: Callable[[], int]) -> Outcome:
    """Run ``func`` on a thread; give up waiting after DEADLINE_S (a hang is then reported, not waited out)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["plans"] = func()
        except BaseException as exc:  # everything is an outcome here
            box["error"], box["trace"] = exc, traceback.format_exc()

    started = time.perf_counter()
    thread = threading.Thread(target=target, name="fuzz-load", daemon=True)
    thread.start()
    thread.join(DEADLINE_S)
    return Outcome(time.perf_counter() - started, box.get("plans"), box.get("error"), box.get("trace", ""),
                   hung=thread.is_alive())


# --- mutations -------------------------------------------------------------------------------------------

def alias_bomb(levels: int = 8, width: int = 9) -> str:
    """The billion laughs: ``width ** levels`` values written in a few lines."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


FRAGMENTS = [  # nasty YAML, inserted at a line (with the indentation found there)
    "a: &a [*a]", "b: &b {x: *b}", "c: *undefined", "d: !!python/object/apply:os.system [echo hi]",
    "e: !!binary aGVsbG8=", "f: !!set {a, b}", "? [x, y]\n: z", "2024-01-01: date key", "g: 2024-13-45",
    "h: " + "9" * 5000, "i: 1e999", "j: .nan", "k: &k {m: 1}\nl: {<<: *k, <<: *k}", "<<: 5", "m: !custom tag",
    "n: '\\ud800'", 'o: "\\ud800"', "p: [" * 150 + "]" * 150, "q: {" * 150 + "}" * 150, "r:\n\t- tab",
    "%YAML 1.1\n---", "---\nsecond: doc", "s: 'unterminated", 't: "a\\', "u: |\n  block\n v", "v: @reserved",
    "w: `tick", "x: &anchor", "y: [1, 2", "z: {a: 1", "- item", "aa: b: c", "bb: - x", "cc: *cc",
    "dd: !!int abc", "ee: !!float xyz", "ff: !!timestamp nope", "gg: !!str", "hh: 0x" + "f" * 5000,
    "ii: 0o99", "jj: 1_000_000", "kk: ~", "ll: [~, null, Null, NULL]", "mm: ''", "nn: ':'", "oo: '#'",
]

JINJA = ["{{", "}}", "{% for x in %}", "{% endfor %}", "{% if %}", "{{ x.__class__.__mro__ }}",
         "{% include 'missing.j2' %}", "{% include '../../etc/passwd' %}", "{{ 'a' * 100000000 }}",
         "{{ (" * 120 + "1" + ") }}" * 120, "{% raw %}", "{# unclosed", "{{ range(10**9) | list }}",
         "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{{ question.__init__.__globals__ }}",
         "{% set x = [" * 100 + "]" * 100 + " %}", "{{ 9 ** 9 ** 9 }}", "{% extends 'x.j2' %}"]


def _scalar(rng: random.Random) -> Any:
    return rng.choice([None, True, False, 0, -1, 7, 10**30, 1.5, float("inf"), "", "x", "ünï cödé", "30 days",
                       "a" * 300, "\t", "{{ q }}", "*a", "&b", "- x", "1.0", "null", [], {}, ["x"], {"k": "v"},
                       {"contains": 5}, [{"rubric": "missing"}], {"min_pass_rate": 2}, {"runs": 0}, -0.0])


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*at, i))


def _reshape(value: Any, rng: random.Random) -> Any:
    """Replace one value, add a key or drop one, somewhere in the data (structure-aware)."""
    paths = list(_paths(value))
    path = rng.choice(paths)
    if not path:
        return _scalar(rng)
    parent = value
    for part in path[:-1]:
        parent = parent[part]
    choice = rng.random()
    if choice < 0.6:
        parent[path[-1]] = _scalar(rng)
    elif choice < 0.8 and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[rng.choice(["runz", "checks", "id", "name", "levels", "extra", "input", "band", "1"])] = _scalar(rng)
    else:
        parent.append(_scalar(rng))
    return value


def _structured(name: str, data: bytes, rng: random.Random) -> bytes:
    if name.endswith(".jsonl"):
        rows = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        i = rng.randrange(len(rows))
        rows[i] = _reshape(rows[i], rng)
        return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
    if name.endswith(".json"):
        return json.dumps(_reshape(json.loads(data), rng)).encode()
    if name.endswith((".yaml", ".lock")):
        return yaml.safe_dump(_reshape(yaml.safe_load(data), rng), allow_unicode=True).encode()
    return _bytes_flip(data, rng)


def _lines_op(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    op = rng.choice(["delete", "duplicate", "swap", "indent", "dedent"])
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(j, lines[i])
    elif op == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "indent":
        lines[i] = b" " * rng.choice([1, 2, 3, 4]) + lines[i]
    else:
        lines[i] = lines[i].lstrip()
    return b"\n".join(lines)


def _bytes_flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 5])):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _insert(data: bytes, rng: random.Random, piece: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + piece + data[at:]


def _fragment(name: str, data: bytes, rng: random.Random) -> bytes:
    if name.endswith(".j2"):
        return _insert(data, rng, rng.choice(JINJA).encode())
    if name.endswith((".json", ".jsonl")):
        deep = rng.choice([50, 200, 1200])
        pieces = ["[" * deep + "]" * deep, '"\\ud800"', "9" * 5000, "NaN", '{"a": 1, "a": 2}', "{" * deep]
        return _insert(data, rng, rng.choice(pieces).encode())
    if name.endswith(".toml"):
        pieces = ["x = [" + "[" * 300 + "]" * 300 + "]", "mode = 1e999", 'a = "\\ud800"', "[tool.goldband]",
                  "mode = [1, 'a']", "x = {", "concurrency = " + "9" * 5000]
        return data + b"\n" + rng.choice(pieces).encode() + b"\n"
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    indent = re.match(rb"^[ -]*", lines[i]).group().replace(b"-", b" ")  # type: ignore[union-attr]
    piece = rng.choice([*FRAGMENTS, alias_bomb(), alias_bomb(4, 4)]).encode()
    lines[i:i] = [indent + p for p in piece.split(b"\n")]
    return b"\n".join(lines)


def _huge(name: str, data: bytes, rng: random.Random) -> bytes:
    """One value made a megabyte long (names, ids, schema values, paths)."""
    big = "x" * 1_000_000
    text = data.decode()
    spots = [m for m in re.finditer(r"(?m)(?<=: )[^\s{\[&*][^\n]*$|(?<=\")[^\"\n]+(?=\")", text)]
    if not spots or name.endswith(".j2"):
        return (text + big).encode()
    spot = rng.choice(spots)
    return (text[:spot.start()] + big + text[spot.end():]).encode()


def _bomb(name: str, data: bytes, rng: random.Random) -> bytes:
    """Work that grows as a power of what is written: aliases in YAML, nested loops in a template."""
    if name.endswith((".yaml", ".lock")):
        return data.rstrip(b"\n") + b"\n" + alias_bomb(rng.choice([6, 8, 10])).encode()
    if name.endswith(".j2"):
        return data + b"{% for a in range(10000) %}{% for b in range(10000) %}{{ a }}{% endfor %}{% endfor %}"
    return _deep(name, data, rng)


def _deep(name: str, data: bytes, rng: random.Random) -> bytes:
    """A flow list (or brackets, or a block list) nested far deeper than anyone writes."""
    n = rng.choice([150, 1000, 5000])
    if name.endswith(".j2"):
        return data + b"{{ " + b"(" * n + b"1" + b")" * n + b" }}"
    if name.endswith(".toml"):
        return data + b"\ndeep = " + b"[" * n + b"]" * n + b"\n"
    if name.endswith((".json", ".jsonl")):
        return _insert(data, rng, b"[" * n + b"]" * n)
    if rng.random() < 0.5:
        return data.rstrip(b"\n") + b"\ndeep:\n" + b"".join(b"  " * i + b"- \n" for i in range(1, min(n, 400)))
    return data.rstrip(b"\n") + b"\ndeep: " + b"[" * n + b"]" * n + b"\n"


MUTATORS: dict[str, Callable[[str, bytes, random.Random], bytes]] = {
    "bomb": _bomb,
    "deep": _deep,
    "flip": lambda name, data, rng: _bytes_flip(data, rng),
    "truncate": lambda name, data, rng: data[:rng.randrange(len(data))],
    "nul": lambda name, data, rng: _insert(data, rng, b"\x00"),
    "latin1": lambda name, data, rng: _insert(data, rng, rng.choice([b"\xe9", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80"])),
    "control": lambda name, data, rng: _insert(data, rng, rng.choice([b"\x1b", b"\x0c", b"\x7f", b"\x85", b"\x08"])),
    "lines": lambda name, data, rng: _lines_op(data, rng),
    "fragment": _fragment,
    "reshape": _structured,
    "huge": _huge,
    "bom": lambda name, data, rng: b"\xef\xbb\xbf" + data if rng.random() < 0.5 else b"\xff\xfe" + data,
}


@dataclass(frozen=True)
class Mutation:
    file: str
    kind: str
    seed: int

    def __str__(self) -> str:
        return f"{self.file}:{self.kind}:{self.seed}"

    def apply(self, files: dict[str, bytes]) -> dict[str, bytes]:
        files = dict(files)
        if self.file == "pyproject.toml":
            del files["goldband.yaml"]
            files["pyproject.toml"] = PYPROJECT.encode()
        rng = random.Random(f"{self}")
        files[self.file] = MUTATORS[self.kind](self.file, files[self.file], rng)
        return files


def mutations(per_file: int, seed: int = 17) -> list[Mutation]:
    """``per_file`` seeded mutations of each file: every kind at least once, the rest drawn at random."""
    rng = random.Random(seed)
    kinds = sorted(MUTATORS)
    out = []
    for name in MUTATED:
        drawn = kinds + [rng.choice(kinds) for _ in range(max(0, per_file - len(kinds)))]
        out += [Mutation(name, kind, rng.randrange(10**6)) for kind in drawn[:per_file]]
    return out
