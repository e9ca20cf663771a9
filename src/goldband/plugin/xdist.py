"""pytest-xdist: every worker gets its golden items as one share and sends all their trials at once.

Under xdist's default ``--dist load`` the controller hands items out a few at a
time, so a worker that submitted each item's trials when pytest reached it kept
one or two requests in flight instead of the run's concurrency (``-n 2`` ran
twice as slow as no ``-n``). Here the golden items are split into one
contiguous share per worker, by their order in the collection (which the
controller and every worker see alike). A share is one xdist scope, sent whole
to one worker; the worker submits every item of a share when the first one
arrives. Other tests are scheduled one by one, as under ``--dist load``.

Under ``--dist loadfile``, ``loadscope`` or ``loadgroup`` a golden set's items
already travel together: the unit is the file or scope. Other modes
(``worksteal``, ``each``) move single items, so those items start one by one,
and the run says so.

When every path pytest is given holds golden sets only (``golden_only``), the
workers would bring nothing: the trials already run concurrently in one
process, and each worker costs an interpreter, pytest's and goldband's imports
and a collection of every item (0.6-0.9 s on two cores, more than the whole
bundled demo). Then ``-n`` is set aside and the run says so (``IN_PROCESS``);
``--goldband-xdist use`` keeps the workers (e.g. a replay of many thousand
cases whose checks are CPU-bound).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

__all__ = ["IN_PROCESS", "SLOW_MESSAGE", "SLOW_MODES", "GoldenShareScheduling", "golden_only", "is_golden",
           "scheduler", "shares", "units"]

SLOW_MODES = ("worksteal", "each")
SLOW_MESSAGE = ("goldband: --dist {mode} hands golden items to workers one at a time, so each worker keeps only "
                "one or two requests in flight; use -n with the default --dist load (each worker gets its golden "
                "items as one share), or no -n at all: goldband already runs its requests concurrently")


IN_PROCESS = ("goldband: -n {workers} set aside: every path selected holds golden sets only, and their trials already "
              "run concurrently in this one process (`concurrency`); xdist workers would only add their start-up. "
              "`--goldband-xdist use` starts them anyway")


def golden_only(args: Sequence[str], invocation_dir: Path, golden_paths: Sequence[str]) -> bool:
    """True when pytest's ``args`` can collect nothing but golden sets: each is a golden set file, or a folder
    inside the golden set paths with no Python file in it (no test module, no conftest)."""
    roots = [Path(p).resolve() for p in golden_paths]
    if not args or not roots:
        return False
    for arg in args:
        path = (invocation_dir / arg.split("::", 1)[0]).resolve()
        if not any(path.is_relative_to(root) for root in roots):
            return False
        if path.is_file() and path.suffix not in (".yaml", ".yml"):
            return False
        if path.is_dir() and any(name.endswith(".py") for _, _, names in os.walk(path) for name in names):
            return False
    return True


def is_golden(nodeid: str) -> bool:
    """A golden item's node id starts with its golden set file (goldband collects only YAML files).

    >>> is_golden("goldensets/support.yaml::support::refund[gpt]"), is_golden("tests/test_a.py::test_b")
    (True, False)
    """
    return nodeid.split("::", 1)[0].endswith((".yaml", ".yml"))


def shares(nodeids: Sequence[str], workers: int) -> dict[str, int]:
    """Each golden item's share: ``workers`` contiguous runs of the golden items, sizes differing by one at most.

    >>> shares(["a.yaml::s::1", "t.py::x", "a.yaml::s::2", "a.yaml::s::3"], 2)
    {'a.yaml::s::1': 0, 'a.yaml::s::2': 0, 'a.yaml::s::3': 1}
    """
    golden = [n for n in nodeids if is_golden(n)]
    return {nodeid: i * workers // len(golden) for i, nodeid in enumerate(golden)}


def units(nodeids: Sequence[str], workers: int, mode: str) -> dict[str, str]:
    """The golden items that reach a worker together, as ``nodeid -> unit``: its share under ``load``, its
    file or scope under the scope modes, itself under the modes that move single items."""
    if mode == "load":
        return {nodeid: f"share-{k}" for nodeid, k in shares(nodeids, workers).items()}
    golden = [n for n in nodeids if is_golden(n)]
    if mode == "loadfile":
        return {n: n.split("::", 1)[0] for n in golden}
    if mode in ("loadscope", "loadgroup"):
        return {n: n.rsplit("::", 1)[0] for n in golden}
    return {n: n for n in golden}


class GoldenShareScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist's classes are untyped
    """``--dist load`` with each worker's golden items as one scope (see the module docstring)."""

    _shares: dict[str, int] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._shares is None:
            self._shares = shares(self.collection or [], self.numnodes)
        share = self._shares.get(nodeid)
        return nodeid if share is None else f"goldband-share-{share}"


def scheduler(config: Any, log: Any) -> Any:
    """The scheduler for a run with golden sets under ``--dist load``; None leaves xdist's own."""
    return GoldenShareScheduling(config, log) if config.getoption("dist") == "load" else None
