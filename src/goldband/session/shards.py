"""Sharded CI runs: K jobs of a CI matrix record one run (``--goldband-shard i/K``, ``--goldband-run-id``).

Selection. After pytest's own selection (``-k``, ``-m``, paths), each golden
item (golden set x case x target) goes to one shard: items are ordered by a
stable hash of their identity (blake2b, the same on every machine and Python;
never the builtin ``hash()``, which is salted per process) and, heaviest first,
each is put on the shard with the fewest planned trials so far (greedy
longest-processing-time). Every job computes the same assignment from the
same selection, so the K shares partition it: no item twice, none lost; and
the shards' trial counts differ by at most one item's runs. Other tests are
not golden items and are left to the job (pytest-shard or pytest-split
divide them).

Bookkeeping. Every shard records into the same run id: its items join the
run's ``run_items`` (the union is the run's selection) and it keeps a
``run_shards`` row (its number, K, its item count, its exit status, when it
finished). A shard's finish is one write transaction that marks it finished
and then looks at the others: only the shard that sees all K shards finished
and every item of the run with a verdict finalizes the run (status, series
points, set gates, reports: ``goldband.session.finish.finalize``, over the
store, so over all shards). Those transactions first take the run's lock
(``goldband.store.locks.serialize``; on SQLite ``BEGIN IMMEDIATE`` already
serializes them): on PostgreSQL, at READ COMMITTED, two shards finishing at
once could otherwise each miss the other's uncommitted finish, and neither
would finalize. So exactly one does. ``goldband run --finalize RUN`` does the
same explicitly, e.g. after ``goldband store merge`` of per-shard SQLite files.

Baseline. A shard does not compare its own cases with ``--goldband-baseline``
(a Benjamini-Hochberg family of one shard's cases is not the run's): the first
shard records the baseline it resolved (``latest`` pinned to that run's id) in
the run's settings, and the finalizer compares all the run's stored cases with
it in one family, as an unsharded run does, and writes each verdict's delta
(``compare_at_finish``).
"""

from __future__ import annotations

import hashlib
import heapq
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from goldband._util.progress import Progress
from goldband.compare.baseline import compare_cases, load_baseline, pinned, stored_stats
from goldband.compare.cases import Comparison
from goldband.errors import ConfigError, StoreError
from goldband.session import setgates
from goldband.session.finish import FinishedRun, finalize
from goldband.store import RunRow, Store
from goldband.store.locks import serialize
from goldband.store.writer import finish_shard, insert_verdict

ItemKey = tuple[str, str, str]  # golden set, case id, target


def item_hash(key: ItemKey) -> int:
    """A stable 64-bit hash of an item's identity (the same on every machine, process and Python).

    >>> item_hash(("support", "c01", "app")) == item_hash(("support", "c01", "app"))
    True
    >>> item_hash(("support", "c01", "app")) != item_hash(("support", "c0", "1app"))
    True
    """
    digest = hashlib.blake2b("\x1f".join(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def assign(items: Sequence[tuple[ItemKey, int]], total: int) -> list[int]:
    """Each (key, planned trials) item's shard, 1-based: heaviest first (ties by hash, then key), onto the
    shard with the fewest trials so far (ties: the lowest number). Loads differ by at most the largest weight.

    >>> assign([(("s", "a", "t"), 3), (("s", "b", "t"), 3), (("s", "c", "t"), 1)], 2)
    [1, 2, 1]
    """
    order = sorted(range(len(items)), key=lambda i: (-items[i][1], item_hash(items[i][0]), items[i][0]))
    loads = [(0, shard) for shard in range(1, total + 1)]  # already a heap: (load, shard number)
    shard_of = [0] * len(items)
    for i in order:
        load, shard = heapq.heappop(loads)
        shard_of[i] = shard
        heapq.heappush(loads, (load + max(int(items[i][1]), 0), shard))
    return shard_of


def selected(items: Sequence[tuple[ItemKey, int]], shard: tuple[int, int]) -> list[bool]:
    """Whether each item belongs to shard ``i`` of ``K`` (``shard``: (i, K), 1-based)."""
    index, total = shard
    return [s == index for s in assign(items, total)]


def ci_run_id(env: Mapping[str, str] | None = None) -> str | None:
    """The run id every job of one GitHub Actions workflow run shares: ``gh-RUNID-ATTEMPT`` (a re-run of the
    workflow is a new attempt, so a new run); None outside GitHub Actions."""
    env = os.environ if env is None else env
    run = env.get("GITHUB_RUN_ID", "").strip()
    if not run.isdigit():
        return None
    attempt = env.get("GITHUB_RUN_ATTEMPT", "").strip()
    return f"gh-{run}-{attempt if attempt.isdigit() else 1}"


def shard_run_id(run_id: str | None, shard: tuple[int, int] | None,
                 env: Mapping[str, str] | None = None) -> str | None:
    """The run id to record into: ``--goldband-run-id``, else (sharded on GitHub Actions) the workflow run's;
    ConfigError when sharded with no id, since the shards could not find each other's run."""
    if run_id is not None or shard is None:
        return run_id
    found = ci_run_id(env)
    if found is None:
        raise ConfigError(f"--goldband-shard {shard[0]}/{shard[1]} without a run id", where="--goldband-shard",
                          expected="one run id shared by every shard of the run",
                          fix="give every shard the same --goldband-run-id (or GOLDBAND_RUN_ID), e.g. "
                              "--goldband-run-id ci-$PIPELINE_ID; on GitHub Actions it defaults to "
                              "gh-$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT")
    return found


def check(store: Store, run_id: str, shard: tuple[int, int]) -> None:
    """Before this shard joins the run: ConfigError when its other shards were started with another K."""
    others = {row["shards"] for row in store.run_shards(run_id) if row["shard"] != shard[0]}
    if others and others != {shard[1]}:
        raise ConfigError(f"shard {shard[0]}/{shard[1]} joins run {run_id}, whose other shards count "
                          f"{', '.join(map(str, sorted(others)))}", where="--goldband-shard",
                          expected="the same number of shards (K) in every job of the run",
                          fix="give every job the same K (--goldband-shard i/K), or a new --goldband-run-id")


@dataclass(frozen=True)
class ShardsState:
    """Where a sharded run stands once a shard finished (``finish``)."""

    total: int
    finished: tuple[int, ...]  # the shards that finished, by number
    unsettled: int  # the run's items with no verdict yet
    exit_status: int  # the worst exit status of the finished shards

    @property
    def ready(self) -> bool:
        """Every shard finished and every item of the run has its verdict: the run can be finalized."""
        return len(self.finished) == self.total and not self.unsettled

    def waiting(self) -> str:
        """Which shards the run still waits for."""
        missing = [str(i) for i in range(1, self.total + 1) if i not in self.finished]
        return f"waiting for shard{'s' * (len(missing) != 1)} {', '.join(missing)} of {self.total}"


def finish(store: Store, run_id: str, shard: tuple[int, int], exit_status: int) -> ShardsState:
    """Mark this shard finished and read, in the same write transaction, where the run stands: of shards
    finishing at once exactly one sees them all finished (the run's lock serializes the transactions)."""
    with store.transaction() as conn:
        serialize(conn, "run", run_id)  # one shard's finish after another's, also on PostgreSQL
        finish_shard(conn, run_id, shard=shard[0], exit_status=exit_status)
        return state(store, run_id, shard[1])


def state(store: Store, run_id: str, total: int) -> ShardsState:
    """The run's finished shards, its items without a verdict and its shards' worst exit status."""
    rows = [r for r in store.run_shards(run_id) if r["finished_at"] is not None]
    planned = {(i["goldenset"], i["case_id"], i["target"]) for i in store.run_items(run_id)}
    return ShardsState(total, tuple(r["shard"] for r in rows), len(planned - store.verdict_keys(run_id)),
                       max((int(r["exit_status"] or 0) for r in rows), default=0))


def run_exit_status(store: Store, run_id: str) -> int:
    """The run's exit status before its set gates: its shards' worst, or (no shard recorded, e.g. a run merged
    from stores that kept none) 1 when a verdict is FAIL or ERROR, as pytest would have failed that item."""
    rows = [r for r in store.run_shards(run_id) if r["exit_status"] is not None]
    if rows:
        return max(int(r["exit_status"]) for r in rows)
    counts = store.verdict_counts(run_id)
    return 1 if counts.get("FAIL") or counts.get("ERROR") else 0


def unfinished(store: Store, run_id: str) -> list[str]:
    """Why a sharded run cannot be complete yet: the shards that did not finish (none for an unsharded run)."""
    rows = store.run_shards(run_id)
    total = max((int(r["shards"]) for r in rows), default=0)
    now = state(store, run_id, total)
    if len(now.finished) == total:
        return []
    return [f"{now.waiting()} (their items are not in the run; run them with --goldband-run-id {run_id}, "
            f"or merge their stores, then finalize again)"]


@dataclass
class _Opened:
    """An open store as ``load_baseline`` reads a baseline run from it (``compare.baseline.StoreSource``)."""

    store: Store
    path: Path | None

    def existing(self) -> Store:
        return self.store


def baseline_ref(store: Store, spec: str | None, *, root: Path, run_id: str, environment: str | None) -> str | None:
    """What a shard records as its run's baseline (``--goldband-baseline``): ``latest`` pinned to the run it names
    now (``compare.baseline.pinned``), so the finalizer compares with the baseline the shards started with."""
    if not spec:
        return None
    return pinned(spec, root=root, store=store, exclude_run=run_id, environment=environment)


def compare_at_finish(store: Store, run_id: str, root: Path, status: int) -> tuple[Comparison | None, int]:
    """The finalizer's baseline comparison of a sharded run: all its stored cases against the baseline its first
    shard recorded, in one Benjamini-Hochberg family (as an unsharded run compares its outcomes), each verdict's
    ``baseline_*`` rewritten; the run's exit status, 1 in place of 0 for a significant regression. (None, status)
    when the run recorded no baseline. Idempotent: finalizing again compares again and writes the same."""
    run = store.run(run_id)
    spec = run.settings.get("baseline") if run is not None else None
    if run is None or not spec:
        return None, status
    stats, label = load_baseline(str(spec), root=root, store=_Opened(store, store.path), exclude_run=run_id,
                                 environment=run.environment)
    cases = {name: set(store.cases(digest)) for name, digest in store.run_goldensets(run_id).items()}
    comparison, deltas = compare_cases(stored_stats(store, run_id), stats, label, cases=cases,
                                       targets=set(store.run_targets(run_id)), head_label=f"run {run_id}")
    with store.transaction() as conn:
        serialize(conn, "run", run_id)
        for key, stored in store.verdicts(run_id).items():
            insert_verdict(conn, run_id, replace(stored, verdict=replace(stored.verdict, baseline=deltas.get(key))))
    return comparison, 1 if comparison.regressions and status == 0 else status


def project_root(run: RunRow) -> Path:
    """Where the run's files are read at its finish: the shards' project root, or (a finalize job that checked
    the project out elsewhere) the current folder."""
    return Path(run.root) if run.root and Path(run.root).is_dir() else Path.cwd()


def finalize_run(store: Store, ref: str, reports_dir: Path | None, progress: Progress | None = None
                 ) -> tuple[FinishedRun, list[str]]:
    """``goldband run --finalize RUN``: finish the run over everything the store holds (idempotent: its series
    points are replaced, its reports rewritten, its baseline comparison made again); with the warnings of set
    bands that could not be read."""
    run = store.resolve_run(ref)
    root = project_root(run)  # the set bands and a baseline file are read from the files the run recorded
    bands, unread = setgates.set_bands(store, run.id, {}, root)
    _, status = compare_at_finish(store, run.id, root, run_exit_status(store, run.id))
    done = finalize(store, run.id, status, reports_dir, progress or Progress(),
                    problems=unfinished(store, run.id), set_bands=bands)
    if done is None:  # resolve_run found it, so the store holds it
        raise StoreError(f"run {run.id} vanished while it was finalized", where=str(store.path))
    return done, unread
