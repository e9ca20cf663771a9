"""Where a baseline comes from: a stored run, the latest run (on a branch), or a committed file.

``--goldband-baseline`` / ``goldband compare --baseline`` accept:

- ``path/to/baseline.json``: a file written by ``goldband baseline save``;
- ``latest``: the newest complete run in the store;
- ``latest:BRANCH``: the newest complete run recorded on that git branch;
- ``latest@KIND`` (or ``latest:BRANCH@KIND``): ... of that kind (ci, nightly, ...);
- a run id (or a unique prefix of one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goldband.bands import BaselineDelta
from goldband.compare import CaseStats, Comparison, Key, compare, read_baseline, stats_from_outcomes
from goldband.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from goldband.goldenset import GoldenSet
    from goldband.store import Store
    from goldband.store.models import RunRow


def load_baseline(spec: str, *, root: Path, store_path: Path | None = None,
                  exclude_run: str | None = None) -> tuple[dict[Key, CaseStats], str]:
    """The baseline's per-case stats and a label for reports."""
    path = root / spec
    if spec.endswith(".json") or path.is_file():
        return read_baseline(path), f"baseline file {spec}"
    return _from_store(spec, store_path or _default_store(root), exclude_run)


def _from_store(spec: str, store_path: Path, exclude_run: str | None) -> tuple[dict[Key, CaseStats], str]:
    from goldband.store import open_store

    if not store_path.exists():
        raise ConfigError(f"no store at {store_path} to find baseline run '{spec}' in", where="--goldband-baseline",
                          fix="run once to record a baseline, or give a baseline file")
    store = open_store(store_path, create=False)
    try:
        run = _pick(store, spec, exclude_run)
        counts = store.case_counts(run.id)
    finally:
        store.close()
    stats = {key: CaseStats(c.n, c.passes, c.errors, tuple(s for s in c.scores if s is not None))
             for key, c in counts.items()}
    return stats, f"run {run.id}" + (f" ({run.git_branch})" if run.git_branch else "")


def _pick(store: Store, spec: str, exclude_run: str | None) -> RunRow:
    head, _, run_kind = spec.partition("@")
    word, _, branch = head.partition(":")
    if word in ("latest", "last"):
        runs = [r for r in store.runs(limit=10, branch=branch or None, kind=run_kind or None, status="complete")
                if r.id != exclude_run]
        if not runs:
            where = (f" on branch '{branch}'" if branch else "") + (f" of kind '{run_kind}'" if run_kind else "")
            raise ConfigError(f"no complete run{where} in the store to use as baseline", where="--goldband-baseline",
                              fix="record a run first (e.g. on the main branch), or give a run id or file")
        return runs[0]
    try:
        return store.resolve_run(spec)
    except StoreError as exc:
        raise ConfigError(exc.what, where="--goldband-baseline", expected=exc.expected, fix=exc.fix) from None


def _default_store(root: Path) -> Path:
    from goldband.config import load_config

    config, _ = load_config(root)
    return root / config.store


def compare_run(outcomes: Mapping[str, Any], baseline: dict[Key, CaseStats], label: str, *,
                goldensets: Mapping[str, GoldenSet], targets: set[str], head_label: str) -> Comparison:
    """Compare a finished run's outcomes (``harness.Outcome`` by node id) with a baseline, case by
    case, and set each outcome's ``verdict.baseline``. Baseline cases the run could not have run
    (another golden set or target, or deselected by ``-k``) are left out rather than 'removed'."""
    head = stats_from_outcomes(outcomes.values())

    def kept(key: Key) -> bool:
        goldenset = goldensets.get(key[0])
        if goldenset is None or key[2] not in targets:
            return False
        return key in head or all(c.id != key[1] for c in goldenset.cases)

    comparison = compare({k: v for k, v in baseline.items() if kept(k)}, head, base_label=label,
                         head_label=head_label)
    changes = {c.key: c for c in comparison.changes}
    for outcome in outcomes.values():
        c = changes[(outcome.plan.goldenset, outcome.plan.case.id, outcome.plan.target.name)]
        delta = BaselineDelta(c.outcome, label, c.delta, c.low, c.high, c.p_value, c.p_adjusted)
        outcome.verdict = replace(outcome.verdict, baseline=delta)
    return comparison
