"""The plugin's settings: pytest options, ini keys and ``GOLDBAND_*`` variables, read once.

Standard library only: pytest imports the plugin in every project, including
those that never use goldband. Precedence: command-line option, then
environment variable, then ini key, then ``goldband.yaml``, then the default.
``None`` here means "not set at this level".
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goldband._util.environment import EXPECTED as ENVIRONMENT_EXPECTED
from goldband._util.environment import NAME as ENVIRONMENT_NAME
from goldband._util.runid import RUN_KINDS
from goldband.errors import OptionError

MODES = ("live", "record", "replay", "cached")
OFF = ("off", "none", "false", "0")  # values that turn the store or the reports off


@dataclass(frozen=True)
class Settings:
    rootpath: Path
    paths: tuple[str, ...]  # directories whose *.yaml files are golden sets
    runs: int | None
    targets: tuple[str, ...] | None
    mode: str | None
    concurrency: int | None
    timeout_s: float | None
    worker: bool  # a pytest-xdist worker: plan lazily, per item
    workers: int = 1  # on an xdist worker: how many workers share the run (and its concurrency)
    controller: bool = False  # a pytest-xdist controller: runs no item itself
    budget: str | None = None  # "500" calls or "$2.50"; parsed by goldband.engine.budget
    band: dict[str, Any] | None = None  # band settings overriding every case
    inconclusive: str | None = None  # fail | warn | more, overriding every case
    baseline: str | None = None  # a run id, "latest[:branch]" or a baseline file
    store: str | None = None  # the store file, or "off"; default from goldband.yaml (.goldband/store.db)
    report: str | None = None  # the reports directory, or "off"; default from goldband.yaml (reports/)
    kind: str | None = None  # ci | pre-merge | nightly | manual; default: ci when CI is set
    resume: str | None = None  # a run id (or prefix, or "latest") to continue
    command: str | None = None  # the command line, recorded with the run
    shared_run: dict[str, Any] | None = None  # an xdist worker: the run its controller started
    judge_gate: str | None = None  # calibrated | always (opt-out: uncalibrated rubrics gate anyway)
    judge_max_errors: float | None = None  # largest share of judge scores that may error
    draft: bool | None = None  # --goldband-draft: a golden set changed under its version runs as a draft, even in CI
    strict: bool | None = None  # --goldband-strict: such a change stops the run, even locally (the default in CI)
    cache_root: Path | None = None  # where mode cached keeps samples; default rootpath (compare: the project's)
    shard: tuple[int, int] | None = None  # --goldband-shard i/K: this job's share of the golden items
    run_id: str | None = None  # --goldband-run-id: the run to record into (every shard of a CI run)
    environment: str | None = None  # --goldband-environment: where the run runs (None: goldband.yaml's, else default)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1, with a message that names what was found."""
    try:
        value = int(text)
    except ValueError:
        raise OptionError(f"expected a whole number >= 1, found {text!r}") from None
    if value < 1:
        raise OptionError(f"expected a whole number >= 1, found {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"expected a number of seconds > 0, found {text!r}") from None
    if not value > 0:
        raise OptionError(f"expected a number of seconds > 0, found {value}")
    return value


def mode(text: str) -> str:
    if text not in MODES:
        raise OptionError(f"expected one of {', '.join(MODES)}, found {text!r}")
    return text


def target_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise OptionError("expected target names separated by commas")
    return names


def budget(text: str) -> str:
    try:
        budget_limit(text)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    return text


_USD = re.compile(r"^\$?\s*(\d+(?:\.\d+)?)\s*(?:usd)?$", re.IGNORECASE)
_CALLS = re.compile(r"^(\d+)\s*(?:calls?)?$", re.IGNORECASE)


def budget_limit(text: str) -> tuple[int | None, float | None]:
    """``500`` or ``500calls`` -> (500, None); ``$2.50`` or ``2.5usd`` -> (None, 2.5); else ValueError."""
    text = text.strip()
    if m := _CALLS.match(text):
        if int(m.group(1)) < 1:
            raise ValueError(f"expected at least 1 call, found {text!r}")
        return int(m.group(1)), None
    if (m := _USD.match(text)) and ("$" in text or "usd" in text.lower()):
        if float(m.group(1)) <= 0:
            raise ValueError(f"expected a dollar amount above 0, found {text!r}")
        return None, float(m.group(1))
    raise ValueError(f"expected a number of calls (500) or dollars ($2.50, 2.5usd), found {text!r}")


def band(text: str) -> dict[str, Any]:
    """``min_pass_rate=0.9,confidence=0.95`` -> a mapping; keys are checked against the band later."""
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"expected key=value pairs separated by commas, found {part!r}")
        out[key.strip()] = _scalar(value.strip())
    return out


def _scalar(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text)
    except ValueError:
        return text


def inconclusive(text: str) -> str:
    if text not in ("fail", "warn", "more"):
        raise OptionError(f"expected fail, warn or more, found {text!r}")
    return text


def baseline(text: str) -> str:
    if not text.strip():
        raise OptionError("expected a run id, 'latest', 'latest:BRANCH' or a baseline file")
    return text.strip()


def path_or_off(text: str) -> str:
    if not text.strip():
        raise OptionError("expected a path, or 'off'")
    return text.strip()


def run_kind(text: str) -> str:
    if text not in RUN_KINDS:
        raise OptionError(f"expected one of {', '.join(RUN_KINDS)}, found {text!r}")
    return text


def run_ref(text: str) -> str:
    if not text.strip() or any(c.isspace() for c in text.strip()):
        raise OptionError(f"expected a run id such as 20261126-153012-ab12 (or a unique prefix, or latest), "
                          f"found {text!r}")
    return text.strip()


def xdist_policy(text: str) -> str:
    if text not in ("auto", "use"):
        raise OptionError(f"expected auto or use, found {text!r}")
    return text


def judge_gate(text: str) -> str:
    if text not in ("calibrated", "always"):
        raise OptionError(f"expected calibrated or always, found {text!r}")
    return text


def share(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise OptionError(f"expected a share from 0 to 1 (or a percentage), found {text!r}") from None
    if not 0 <= value <= 1:
        raise OptionError(f"expected a share from 0 to 1 (or a percentage), found {text!r}")
    return value


def flag(text: str) -> bool:
    """A switch's value in a GOLDBAND_* variable or ini key: 1/true/yes/on or 0/false/no/off."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise OptionError(f"expected 1, true, yes, on (or 0, false, no, off), found {text!r}")


_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
SHARD_FIX = "give this job's shard and the number of shards, e.g. --goldband-shard 1/4 ... 4/4 (1-based)"


def shard(text: str) -> tuple[int, int]:
    """``2/4`` -> (2, 4): the 2nd of 4 shards, 1-based like pytest-split's ``--group`` and GitLab's
    ``CI_NODE_INDEX`` (pytest-shard's ``--shard-id`` is 0-based): ``K/K`` is the last, ``0/K`` an error."""
    m = _SHARD.match(text)
    index, total = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    if not m or total < 1 or not 1 <= index <= total:
        raise OptionError(f"expected SHARD/TOTAL with 1 <= SHARD <= TOTAL, found {text!r}; fix: {SHARD_FIX}")
    return index, total


_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def run_id(text: str) -> str:
    """A run id to record into: letters, digits, ``.``, ``_`` and ``-``, up to 64 (it names report folders)."""
    if not _RUN_ID.match(text.strip()):
        raise OptionError(f"expected a run id of letters, digits, '.', '_' or '-' (up to 64, starting with a "
                          f"letter or digit), found {text!r}; fix: e.g. --goldband-run-id gh-$GITHUB_RUN_ID")
    return text.strip()


def environment(text: str) -> str:
    """An environment name (``staging``, ``eu-west``; see ``goldband._util.environment``)."""
    if not ENVIRONMENT_NAME.match(text.strip()):
        raise OptionError(f"expected {ENVIRONMENT_EXPECTED}, found {text!r}; fix: e.g. --goldband-environment staging")
    return text.strip()


def key(name: str) -> str:
    """An option's name in dests, ini keys and variables: ``judge-gate`` -> ``judge_gate``."""
    return name.replace("-", "_")


# name -> (parser, help): option --goldband-NAME, ini key goldband_NAME, variable GOLDBAND_NAME;
# hyphens in a name become underscores in its ini key and variable (--goldband-judge-gate, GOLDBAND_JUDGE_GATE)
OPTIONS: dict[str, tuple[Any, str]] = {
    "runs": (positive_int, "trials per case (overrides the golden set's 'runs')"),
    "target": (target_list, "run only these targets (comma-separated names from goldband.yaml)"),
    "mode": (mode, "where samples come from: live | record | replay | cached"),
    "concurrency": (positive_int, "maximum LLM calls in flight across all cases (default 16)"),
    "timeout": (positive_float, "per-call timeout in seconds (overrides every target's timeout_s)"),
    "budget": (budget, "run-wide budget for trials: a number of calls (500) or dollars ($2.50)"),
    "band": (band, "band settings for every case, e.g. 'min_pass_rate=0.9,confidence=0.95'"),
    "inconclusive": (inconclusive, "what INCONCLUSIVE does: fail | warn | more (spend more runs)"),
    "baseline": (baseline, "compare with a baseline: a run id, 'latest', 'latest:BRANCH' or a baseline file"),
    "store": (path_or_off, "the results store (SQLite), or 'off' (default: goldband.yaml 'store:', "
                           ".goldband/store.db)"),
    "report": (path_or_off, "directory for HTML, Markdown and JSON reports, or 'off' (default: goldband.yaml "
                            "'reports:', reports/)"),
    "kind": (run_kind, "the kind of run recorded: ci | pre-merge | nightly | manual (default: ci when CI is set)"),
    "resume": (run_ref, "continue a stopped or killed run: run only its missing trials (a run id, prefix or latest)"),
    "judge-gate": (judge_gate, "calibrated: rubrics below their agreement floor (or stale) do not gate; always: "
                               "they gate anyway (explicit opt-out)"),
    "xdist": (xdist_policy, "with -n, when every path selected holds golden sets only: auto (default) runs them "
                            "in this one process, where their trials already run concurrently and xdist would only "
                            "add worker start-up; use: start the workers anyway"),
    "judge-max-errors": (share, "largest share of rubric scores that may be judge errors before the run is "
                                "reported as a harness/judge error, exit status 3 (default 0.1)"),
    "draft": (flag, "run a golden set changed under an unchanged version as a draft (warned, results marked "
                    "draft, never a baseline or in series), even in CI (default: draft locally, strict when CI is "
                    "set)"),
    "strict": (flag, "stop the run when a golden set changed under an unchanged version, even locally (the default "
                     "when CI is set)"),
    "shard": (shard, "run only shard i of K (e.g. 2/4): a deterministic share of the golden items balanced by "
                     "their trials; every shard records into one run (--goldband-run-id), the last finalizes it"),
    "run-id": (run_id, "record into this run id (default: a new one; under --goldband-shard on GitHub Actions: "
                       "gh-GITHUB_RUN_ID-GITHUB_RUN_ATTEMPT)"),
    "environment": (environment, "the environment this run is recorded in, e.g. staging or production (default: "
                                 "goldband.yaml 'environment:', else the default environment)"),
}
FLAGS = frozenset({"draft", "strict"})  # options given without a value (--goldband-draft); 1/true in env and ini


def resolve(name: str, option: Any, ini: str | None, env: Mapping[str, str] | None = None) -> Any:
    """The first value set among option, GOLDBAND_NAME and the ini key; parsed; or None."""
    source_env: Mapping[str, str] = os.environ if env is None else env
    if option is not None:
        return option
    parser, _ = OPTIONS[name]
    env_name = f"GOLDBAND_{key(name).upper()}"
    for source, raw in ((f"environment variable {env_name}", source_env.get(env_name)),
                        (f"ini key goldband_{key(name)}", ini)):
        if raw not in (None, ""):
            try:
                return parser(str(raw))
            except OptionError as exc:
                raise OptionError(f"{source}: {exc}") from None
    return None
