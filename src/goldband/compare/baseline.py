"""Where a baseline comes from: a stored run, the latest run (on a branch), or a committed file.

``--goldband-baseline`` / ``goldband compare --baseline`` accept:

- ``path/to/baseline.json``: a file written by ``goldband baseline save``;
- ``latest``: the newest complete run in the store;
- ``latest:BRANCH``: the newest complete run recorded on that git branch;
- ``latest@KIND`` (or ``latest:BRANCH@KIND``): ... of that kind (ci, nightly, ...);
- a run id (or a unique prefix of one).

A draft run (a golden set changed under its version and run anyway, see
``goldband.golden.lock``) is never a baseline: ``latest`` skips it, and naming
one is an error.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from goldband._util import jsonio
from goldband._util.environment import shown
from goldband.compare.cases import CaseStats, Comparison, Key, compare
from goldband.errors import ConfigError, StoreError, shorten
from goldband.golden.goldenset import GoldenSet
from goldband.results import BaselineDelta
from goldband.store import RunRow, Store

BASELINE_FORMAT = 1


def stats_from_outcomes(outcomes: Iterable[Any]) -> dict[Key, CaseStats]:
    """Per-case stats from a run's outcomes (``goldband.engine.plan.Outcome``: plan, verdict, trials)."""
    out: dict[Key, CaseStats] = {}
    for o in outcomes:
        scores = tuple(s for t in o.trials if (s := t.score) is not None)
        v, runs = o.verdict, o.plan.runs
        out[(o.plan.goldenset, o.plan.case.id, o.plan.target.name)] = CaseStats(
            v.n, v.passes, v.errors, scores, CaseStats.looks_of(runs.min, runs.max, runs.adaptive))
    return out


def write_baseline(path: Path, cases: Mapping[Key, CaseStats], *, source: str) -> None:
    rows = [{"goldenset": k[0], "case": k[1], "target": k[2], **asdict(s)} for k, s in sorted(cases.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"goldband_baseline": BASELINE_FORMAT, "source": source, "cases": rows},
                               indent=1) + "\n", encoding="utf-8")


def read_baseline(path: Path) -> dict[Key, CaseStats]:
    """Read a committed baseline file; a bad file is a ConfigError naming it.

    Files written before ``looks`` was recorded count as fixed-n runs."""
    try:  # the one safe loader: bad bytes, deep nesting and malformed JSON name file:line:column
        data = jsonio.load(path, cannot="cannot read baseline file",
                           fix="give a run id, 'latest', or an existing baseline file")
    except ConfigError as exc:
        if not exc.what.startswith("malformed JSON"):
            raise
        raise ConfigError(exc.what.replace("malformed JSON", "baseline file is not JSON", 1), where=exc.where,
                          expected=exc.expected, fix=exc.fix) from None
    if not isinstance(data, dict) or data.get("goldband_baseline") != BASELINE_FORMAT:
        raise ConfigError("not a goldband baseline file", where=f"{path}:1",
                          expected=f"a JSON object with \"goldband_baseline\": {BASELINE_FORMAT}",
                          fix="write one with 'goldband baseline save'")
    try:
        return {(r["goldenset"], r["case"], r["target"]): CaseStats(int(r["n"]), int(r["passes"]),
                                                                    int(r.get("errors", 0)),
                                                                    tuple(float(x) for x in r.get("scores", ())),
                                                                    max(1, int(r.get("looks", 1))))
                for r in data["cases"]}
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ConfigError(f"malformed baseline row: {shorten(str(exc))}", where=str(path),
                          expected="rows with goldenset, case, target, n, passes") from None


class StoreSource(Protocol):
    """Where a stored baseline is read: the session's store handle (``goldband.session.storage``)."""

    path: Path | None

    def existing(self) -> Store | None: ...


def load_baseline(spec: str, *, root: Path, store: StoreSource,
                  exclude_run: str | None = None,
                  environment: str | None = None) -> tuple[dict[Key, CaseStats], str]:
    """The baseline's per-case stats and a label for reports: from a file, else from ``store``.

    ``latest`` is the latest complete run of ``environment`` (the current run's, as stored: None is the
    default): staging's run is never production's baseline. A run id names one run in any environment."""
    path = root / spec
    if spec.endswith(".json") or path.is_file():
        return read_baseline(path), f"baseline file {spec}"
    found = store.existing()
    if found is None:
        raise ConfigError(f"no store at {store.path or '(the store is off)'} to find baseline run '{spec}' in",
                          where="--goldband-baseline", fix="run once to record a baseline, or give a baseline file")
    run = _pick(found, spec, exclude_run, environment)
    looks = {(i["goldenset"], i["case_id"], i["target"]): CaseStats.looks_of(i["min_runs"] or 1, i["max_runs"] or 1)
             for i in found.run_items(run.id)}
    stats = {key: CaseStats(c.n, c.passes, c.errors, tuple(s for s in c.scores if s is not None), looks.get(key, 1))
             for key, c in found.case_counts(run.id).items()}
    return stats, f"run {run.id}" + (f" ({run.git_branch})" if run.git_branch else "")


def _pick(store: Store, spec: str, exclude_run: str | None, environment: str | None = None) -> RunRow:
    head, _, run_kind = spec.partition("@")
    word, _, branch = head.partition(":")
    if word in ("latest", "last"):
        runs = [r for r in store.runs(limit=10, branch=branch or None, kind=run_kind or None, status="complete",
                                      draft=False, environment=shown(environment)) if r.id != exclude_run]
        if not runs:
            where = (f" on branch '{branch}'" if branch else "") + (f" of kind '{run_kind}'" if run_kind else "") \
                + f" in environment '{shown(environment)}'"
            raise ConfigError(f"no complete run{where} in the store to use as baseline (draft runs never are)",
                              where="--goldband-baseline",
                              fix="record a run first (e.g. on the main branch), or give a run id or file")
        return runs[0]
    try:
        run = store.resolve_run(spec)
    except StoreError as exc:
        raise ConfigError(exc.what, where="--goldband-baseline", expected=exc.expected, fix=exc.fix) from None
    if run.draft:
        raise ConfigError(f"run {run.id} is a draft run (a golden set changed under its version), never a baseline",
                          where="--goldband-baseline", expected="a run whose golden sets matched their lock files",
                          fix="give another run id, 'latest' (which skips drafts), or a baseline file")
    return run


def compare_run(outcomes: Iterable[Any], baseline: dict[Key, CaseStats], label: str, *,
                goldensets: Mapping[str, GoldenSet], targets: set[str],
                head_label: str) -> tuple[Comparison, dict[Key, BaselineDelta]]:
    """Compare a finished run's outcomes with a baseline, case by case: the comparison, and each
    case's ``BaselineDelta`` for its verdict. Baseline cases the run could not have run (another
    golden set or target, or deselected by ``-k``) are left out rather than 'removed'."""
    cases = {name: {c.id for c in goldenset.cases} for name, goldenset in goldensets.items()}
    return compare_cases(stats_from_outcomes(outcomes), baseline, label, cases=cases, targets=targets,
                         head_label=head_label)


def compare_cases(head: Mapping[Key, CaseStats], baseline: dict[Key, CaseStats], label: str, *,
                  cases: Mapping[str, Collection[str]], targets: Collection[str],
                  head_label: str) -> tuple[Comparison, dict[Key, BaselineDelta]]:
    """``compare_run`` over per-case stats (the session's outcomes, or a stored run's: ``stored_stats``);
    ``cases``: each golden set's case ids, so a baseline case no longer in its golden set is 'removed'."""

    def kept(key: Key) -> bool:
        known = cases.get(key[0])
        if known is None or key[2] not in targets:
            return False
        return key in head or key[1] not in known

    comparison = compare({k: v for k, v in baseline.items() if kept(k)}, head, base_label=label,
                         head_label=head_label)
    deltas = {c.key: BaselineDelta(c.outcome, label, c.delta, c.low, c.high, c.p_value, c.p_adjusted)
              for c in comparison.changes if c.key in head}
    return comparison, deltas


def stored_stats(store: Store, run_id: str) -> dict[Key, CaseStats]:
    """A stored run's per-case stats as ``stats_from_outcomes`` gives them for the run's outcomes: each
    verdict's counts, its trials' scores, and the stopping points its planned runs allowed (a sharded run is
    compared over all its shards' cases when it is finalized, ``goldband.session.shards``)."""
    looks = {(i["goldenset"], i["case_id"], i["target"]): CaseStats.looks_of(i["min_runs"] or 1, i["max_runs"] or 1)
             for i in store.run_items(run_id)}
    counts = store.case_counts(run_id)
    out: dict[Key, CaseStats] = {}
    for key, stored in store.verdicts(run_id).items():
        v, scores = stored.verdict, counts[key].scores if key in counts else ()
        out[key] = CaseStats(v.n, v.passes, v.errors, tuple(s for s in scores if s is not None), looks.get(key, 1))
    return out


def pinned(spec: str, *, root: Path, store: Store, exclude_run: str | None = None,
           environment: str | None = None) -> str:
    """The baseline ``spec`` as one that names the same baseline later: a file stays its spec, ``latest...``
    (or a run id prefix) becomes the id of the run it names now (a sharded run records it when it starts and
    compares with it when it is finalized, whatever runs completed meanwhile)."""
    if spec.endswith(".json") or (root / spec).is_file():
        return spec
    return _pick(store, spec, exclude_run, environment).id
