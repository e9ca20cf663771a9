"""The store's row types: what queries return and what writers take (plain data).

Times are ISO 8601 strings in UTC with milliseconds (``2026-11-26T15:30:12.123+00:00``):
they sort as text, Datasette shows them as they are, and they survive JSON.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from goldband._util.runid import now
from goldband.clock import iso
from goldband.results import Verdict

CaseKey = tuple[str, str, str]  # (goldenset, case_id, target)


def to_time(value: str | datetime | float | int) -> str:
    """A time in the store's format: from an ISO string, a datetime, or a Unix timestamp."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    return iso(value)


def labels_key(labels: dict[str, Any] | None) -> str:
    """The canonical text of a label set: equal labels, equal keys (the series identity)."""
    return json.dumps(labels or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class RunRow:
    """One run (a pytest session, or several when resumed)."""

    id: str
    kind: str
    status: str  # running | complete | incomplete (a dead 'running' run reads as incomplete)
    started_at: str
    updated_at: str | None = None
    finished_at: str | None = None
    git_sha: str | None = None
    git_branch: str | None = None
    git_dirty: bool | None = None
    goldband_version: str | None = None
    command: str | None = None
    root: str | None = None
    host: str | None = None
    pid: int | None = None
    mode: str | None = None
    sessions: int = 1
    exit_status: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what goldband failed to write (an incomplete run)
    draft: bool = False  # a golden set changed under its version ran anyway: never a baseline, history or series
    environment: str | None = None  # staging, production, a region; None: the default environment

    @property
    def alive(self) -> bool:
        """Still running: marked running and its process exists (on this host)."""
        return self.status == "running" and process_alive(self.host, self.pid)


def process_alive(host: str | None, pid: int | None) -> bool:
    """Whether the process that marked a run 'running' still exists.

    Only a process on this host can be checked (POSIX ``kill(pid, 0)``); for
    another host or platform the mark is trusted.
    """
    if host is None or pid is None:
        return False
    if host != socket.gethostname() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass(frozen=True)
class CaseCounts:
    """One case on one target in one run, from its stored trials (ordered by sample)."""

    n: int
    passes: int
    fails: int
    errors: int
    mean_score: float | None
    passed: tuple[bool, ...]  # per trial: passed (an error is not a pass)
    scores: tuple[float | None, ...]  # per trial: mean check score, None for an errored trial
    outcomes: tuple[str, ...] = ()  # per trial: pass | fail | error

    @property
    def pass_rate(self) -> float | None:
        return self.passes / self.n if self.n else None


@dataclass(frozen=True)
class StoredVerdict:
    """A case's verdict in one run, with the identity of what produced it: written, and read back."""

    goldenset: str
    case_id: str
    target: str
    nodeid: str | None
    goldenset_hash: str | None
    target_hash: str | None
    verdict: Verdict
    created_at: str | None = None  # set when read back

    @property
    def key(self) -> CaseKey:
        return (self.goldenset, self.case_id, self.target)


@dataclass(frozen=True)
class Rendering:
    """What one case's trials sent a model target: the rendered chat messages and the tool definitions
    offered with them, stored once under ``hash`` (the canonical hash of both).

    ``samples`` (read back only): which of the case's trials in a run were sent it.
    """

    hash: str
    messages: list[dict[str, Any]]
    tools: list[Any] | None = None
    samples: tuple[int, ...] = ()


@dataclass(frozen=True)
class HistoryPoint:
    """One case's verdict in one past run, for trends."""

    run_id: str
    time: str  # the run's start
    kind: str
    run_status: str
    status: str  # the verdict: PASS, FAIL, INCONCLUSIVE, ERROR, QUARANTINED
    n: int
    passes: int
    pass_rate: float | None
    pass_rate_low: float | None
    pass_rate_high: float | None
    mean_score: float | None


@dataclass(frozen=True)
class SeriesPoint:
    """One value of a named metric at one time: the table LLM evals and classic-ML monitors share.

    The series is identified by (source, model, metric, labels).
    """

    source: str  # llm-eval | classic-ml
    model: str  # llm-eval: the target name; classic-ml: the model's name
    metric: str
    value: float
    time: str = field(default_factory=now)
    labels: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    environment: str | None = None  # None: the run's environment (run_id given), else the default


@dataclass(frozen=True)
class DriftEvent:
    """A detector flagged drift on one series at one time."""

    detector: str  # page_hinkley, adwin, ks, psi, ...
    source: str
    model: str
    metric: str
    statistic: float | None
    time: str = field(default_factory=now)
    labels: dict[str, Any] = field(default_factory=dict)
    p_value: float | None = None
    threshold: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    id: int | None = None  # set when read back
