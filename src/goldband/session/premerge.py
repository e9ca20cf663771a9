"""The pre-merge check: the same golden sets on two versions of the targets, one engine.

``--base REF`` and ``--head REF`` are git refs; each is checked out with ``git
archive`` into a temporary directory, so prompts, ``goldband.yaml`` and
cassettes come from that ref. The *golden sets* (and so every check and rubric)
always come from the head: a pre-merge check asks how the change behaves on
today's cases. A stored run or a baseline file can stand in for the base
(``against_baseline``), so the base is not re-run.

Honest by construction:

* an item whose base and head would send the very same request (same target
  content hash and rendered messages; for a callable target, no tracked Python
  file changed either) is not run: it is ``same content``, unless
  ``Options.rerun_same``;
* every other item runs a *fixed* N on both sides, planned from its band and
  the drop to detect (``goldband.compare.power``), so the fixed-n test is valid;
  ``Options.adaptive`` keeps the cases' own adaptive repeats instead and the
  comparison corrects for their stopping points (``goldband.compare.cases``);
* both sides are recorded in the store as runs of kind ``pre-merge``, the head
  with each case's delta against the base (so its HTML report shows them).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from goldband._util.gitinfo import GitInfo, git_info
from goldband._util.hashing import canonical_hash
from goldband.bands.spec import Runs
from goldband.compare.cases import CaseStats, Comparison, Key, compare
from goldband.compare.power import MAX_RUNS, RunsPlan, plan_runs
from goldband.config.settings import Settings
from goldband.engine.cassettes import CassetteLibrary
from goldband.engine.execute import run_case
from goldband.engine.plan import CasePlan, CaseRun, Services
from goldband.errors import ConfigError, GoldbandError
from goldband.results import BaselineDelta, ScoredTrial, Verdict
from goldband.session import judging
from goldband.session.session import Session
from goldband.session.settle import settle

Progress = Callable[[int], None]  # called with each batch's trial count, on the engine's thread


@dataclass(frozen=True)
class Options:
    """How the check runs and decides (``goldband compare``'s options)."""

    alpha: float = 0.05  # false discovery rate across cases
    min_effect: float = 0.1  # smaller changes are never called a regression
    detect: float = 0.3  # the pass-rate drop the fixed N is planned to find with 80 % power
    max_runs: int = MAX_RUNS  # the planned N's cap
    runs: int | None = None  # a fixed N for every case instead of the plan
    adaptive: bool = False  # the cases' own (adaptive) repeats, corrected for their stopping points
    rerun_same: bool = False  # run items whose content is the same on both sides anyway


@dataclass(frozen=True)
class SideResult:
    label: str  # "main @ 1a2b3c4"
    verdicts: dict[Key, Verdict]
    stats: dict[Key, CaseStats]
    trials: dict[Key, list[ScoredTrial]] = field(default_factory=dict)
    run_id: str | None = None  # the run recorded in the store, if any
    reports: tuple[Path, ...] = ()
    problems: tuple[str, ...] = ()  # what goldband failed to record (lost store writes, reports not written)


@dataclass(frozen=True)
class PreMerge:
    comparison: Comparison
    base: SideResult | None  # None when the base came from a stored run or file
    head: SideResult

    @property
    def problems(self) -> tuple[str, ...]:
        """What goldband failed to record on either side: the check then exits 3, never 0."""
        return tuple(p for side in (self.base, self.head) if side is not None for p in side.problems)


def key_of(plan: CasePlan) -> Key:
    return plan.goldenset, plan.case.id, plan.target.name


# --------------------------------------------------------------------------- git


def git_sha(repo: Path, ref: str) -> str:
    """The commit a ref names; an unknown ref is a ConfigError naming the option."""
    out = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if out is None:
        raise ConfigError(f"git ref '{ref}' does not exist", where=f"--base/--head {ref}",
                          expected="a branch, tag or commit of this repository",
                          fix="check the name (e.g. origin/main after 'git fetch'), or use HEAD")
    return out


@contextmanager
def checkout(repo: Path, ref: str) -> Iterator[tuple[Path, str]]:
    """The project directory as it is at ``ref`` (a temporary copy), and its short sha."""
    sha = git_sha(repo, ref)
    top = Path(_git(repo, "rev-parse", "--show-toplevel") or repo)
    prefix = repo.resolve().relative_to(top.resolve())
    archive = subprocess.run(["git", "archive", "--format=tar", sha], cwd=top, capture_output=True, check=True)
    with tempfile.TemporaryDirectory(prefix=f"goldband-{sha[:7]}-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp) / prefix, sha[:7]


def _git(repo: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    except FileNotFoundError:
        raise ConfigError("git is not installed", where="goldband compare", fix="install git") from None
    return out.stdout.strip() if out.returncode == 0 else None


def python_changed(repo: Path, base_ref: str, head_ref: str | None) -> bool:
    """Whether any tracked Python file differs between the refs (the head may be the working tree):
    a callable target's own source is in its hash, what it calls is not."""
    refs = [base_ref] if head_ref is None else [base_ref, head_ref]
    out = subprocess.run(["git", "diff", "--quiet", *refs, "--", "*.py"], cwd=repo, capture_output=True)
    return out.returncode != 0


# --------------------------------------------------------------------------- planning


def side_settings(root: Path, template: Settings) -> Settings:
    """One ref's settings: its copy's files, the project's samples cache (so ``--mode cached`` in CI reuses
    what the last run cached, and both refs share identical requests' samples)."""
    return replace(template, rootpath=root, paths=(str(root / "goldensets"),), runs=None,
                   cache_root=template.cache_root or template.rootpath)


def session_for(root: Path, template: Settings, label: str, *, library: CassetteLibrary | None = None) -> Session:
    """A session for one side; its config errors name the side. ``library``: the other side's cassettes, so
    both write one samples cache (each would otherwise rewrite the file with its own samples only)."""
    try:
        return Session.create(side_settings(root, template), library=library)
    except GoldbandError as exc:
        raise ConfigError(f"{label}: {exc}") from None


def head_plans(head: Session) -> list[CasePlan]:
    plans: list[CasePlan] = []
    for path in sorted((head.settings.rootpath / "goldensets").rglob("*.y*ml")):
        plans += head.plans(head.load(path))
    if not plans:
        raise ConfigError("no golden set cases to compare", where=str(head.settings.rootpath / "goldensets"),
                          fix="add golden sets under goldensets/")
    return plans


def base_plans(base: Session, head: Session, plans: list[CasePlan], label: str) -> list[CasePlan]:
    """The head's cases on the base's targets of the same name (cases of new targets are 'new')."""
    out = []
    for plan in plans:
        target = base.targets.get(plan.target.name)
        if target is None:
            continue
        try:
            out.append(base.plan_for(head.goldensets[plan.goldenset], plan.case, target))
        except GoldbandError as exc:
            raise ConfigError(f"{label}: {exc}") from None
    return out


def request_hash(plan: CasePlan) -> str:
    """What a side sends for this item: the target's content and the rendered messages."""
    return canonical_hash({"target": plan.target.content_hash, "messages": plan.messages})


def same_content(head: Sequence[CasePlan], base: Sequence[CasePlan], *, code_changed: bool) -> set[Key]:
    """Items whose base and head send the very same request: nothing to compare, by construction."""
    by_key = {key_of(p): p for p in base}
    same = set()
    for plan in head:
        other = by_key.get(key_of(plan))
        if other is None or (plan.target.is_callable and code_changed):
            continue
        if request_hash(other) == request_hash(plan):
            same.add(key_of(plan))
    return same


def sized(plans: Sequence[CasePlan], options: Options) -> tuple[list[CasePlan], dict[Key, RunsPlan]]:
    """Each plan with the fixed N the comparison runs (``options.runs``, else planned from its band)."""
    if options.adaptive:
        return list(plans), {}
    out, planned = [], {}
    for plan in plans:
        if options.runs is not None:
            n = options.runs
        else:
            planned[key_of(plan)] = found = plan_runs(plan.case.band.min_pass_rate, options.detect,
                                                      alpha=options.alpha, cap=options.max_runs)
            n = found.n
        out.append(replace(plan, runs=Runs(n, n, adaptive=False)))
    return out, planned


def runs_note(planned: dict[Key, RunsPlan], options: Options, tested: int) -> str:
    """How many trials each side ran, and what that can see, in one line."""
    if options.adaptive:
        return (f"{tested} case(s) ran their own adaptive repeats; p-values are corrected for every count "
                "they could have stopped at")
    if options.runs is not None:
        return f"{tested} case(s), a fixed {options.runs} trials a side (--runs)"
    plans = sorted(set(planned.values()), key=lambda p: (p.n, p.base_rate))
    described = "; ".join(p.describe() for p in plans) or "nothing to run"
    return f"{tested} case(s), a fixed N planned from each band and a drop of {options.detect:g}: {described}"


# --------------------------------------------------------------------------- running


def run_sides(head: Session, sides: list[list[CasePlan]], services: Sequence[Services] | None = None,
              progress: Progress | None = None) -> list[list[CaseRun]]:
    """Every plan of every side through the head's one engine, all at once (each side with its own
    ``services``: the same engine and judge, its own recorder)."""
    shared = head.services()
    chosen = list(services) if services is not None else [shared] * len(sides)
    if progress is not None:
        chosen = [_counting(s, progress) for s in chosen]
    futures = [[s.engine.submit(run_case(s, p)) for p in plans] for s, plans in zip(chosen, sides, strict=True)]
    return [[f.result() for f in side] for side in futures]


def _counting(services: Services, progress: Progress) -> Services:
    inner = services.on_trials

    def on_trials(plan: CasePlan, scored: list[ScoredTrial]) -> None:
        if inner is not None:
            inner(plan, scored)
        progress(len(scored))

    return replace(services, on_trials=on_trials)


def summarize(label: str, plans: list[CasePlan], runs: list[CaseRun]) -> SideResult:
    verdicts: dict[Key, Verdict] = {}
    stats: dict[Key, CaseStats] = {}
    trials: dict[Key, list[ScoredTrial]] = {}
    for plan, run in zip(plans, runs, strict=True):
        key = key_of(plan)
        v = settle(plan, run)
        verdicts[key], trials[key] = v, list(run.trials)
        looks = CaseStats.looks_of(plan.runs.min, plan.runs.max, plan.runs.adaptive)
        stats[key] = CaseStats(v.n, v.passes, v.errors, tuple(s for t in run.trials if (s := t.score) is not None),
                               looks)
    return SideResult(label, verdicts, stats, trials)


# --------------------------------------------------------------------------- recording


def nodeid(plan: CasePlan) -> str:
    return f"{plan.goldenset}::{plan.case.id}[{plan.target.name}]"


def begin(side: Session, head: Session, plans: Sequence[CasePlan], git: GitInfo) -> Services:
    """Open the side's run in the store (kind pre-merge, at the side's commit); the services that
    record its trials. Nothing is opened for a side with nothing to run."""
    if not plans:
        return head.services()
    side.recorder.git = git
    items = [(nodeid(p), p) for p in plans]
    side.recorder.begin(items, head.goldensets, judging.rubric_identities(plans, head.config.judge))
    return replace(head.services(), on_trials=side.recorder.on_trials, completed=None)


def finish(side: Session, plans: Sequence[CasePlan], result: SideResult, exitstatus: int,
           deltas: dict[Key, BaselineDelta] | None = None) -> SideResult:
    """Write the side's verdicts (the head's with its delta) and finish its run and reports."""
    for plan in plans:
        verdict = result.verdicts[key_of(plan)]
        if deltas is not None and key_of(plan) in deltas:
            verdict = replace(verdict, baseline=deltas[key_of(plan)])
        side.recorder.finish_item(nodeid(plan), plan, verdict)
    done = side.recorder.session_finished(exitstatus)
    if done is None:
        return result
    return replace(result, run_id=done.id, reports=tuple(done.reports), problems=tuple(done.problems))


def deltas_of(comparison: Comparison, label: str) -> dict[Key, BaselineDelta]:
    return {c.key: BaselineDelta(c.outcome, label, c.delta, c.low, c.high, c.p_value, c.p_adjusted)
            for c in comparison.changes if c.head is not None}


# --------------------------------------------------------------------------- the two entry points


def premerge(repo: Path, *, base_ref: str, head_ref: str | None, settings: Settings,
             options: Options = Options(), progress: Progress | None = None,
             on_plan: Callable[[int], None] | None = None) -> PreMerge:
    """Run both refs' targets on the head's golden sets and compare case by case.

    ``on_plan`` is told the number of trials planned, before any call; ``progress`` each batch."""
    with ExitStack() as stack:
        base_root, base_sha = stack.enter_context(checkout(repo, base_ref))
        head_root, head_sha = stack.enter_context(_head_root(repo, head_ref))
        head = session_for(head_root, settings, f"head {head_ref or 'working tree'}")
        stack.callback(head.close)
        base = session_for(base_root, settings, f"base {base_ref}", library=head.library)
        stack.callback(base.close)
        base.recorder.reports_dir = None  # the head's report shows both sides' counts
        plans = head_plans(head)
        others = base_plans(base, head, plans, f"base {base_ref}")
        same = set() if options.rerun_same else same_content(
            plans, others, code_changed=any(p.target.is_callable for p in plans)
            and python_changed(repo, base_ref, head_ref))  # git is asked only when a callable target could differ
        h_plans, planned = sized([p for p in plans if key_of(p) not in same], options)
        b_plans, _ = sized([p for p in others if key_of(p) not in same], options)
        head.preflight(h_plans + b_plans)
        if on_plan is not None:
            on_plan(sum(p.runs.min for p in (*h_plans, *b_plans)))
        services = [begin(head, head, h_plans, _git_info(repo, head_ref)),
                    begin(base, head, b_plans, GitInfo(git_sha(repo, base_ref), base_ref, False))]
        head_runs, base_runs = run_sides(head, [h_plans, b_plans], services, progress)
        head_side = summarize(f"{head_ref or 'working tree'} @ {head_sha}", h_plans, head_runs)
        base_side = summarize(f"{base_ref} @ {base_sha}", b_plans, base_runs)
        base_side = finish(base, b_plans, base_side, 0)
        notes = (runs_note(planned, options, len(h_plans)), *_target_notes(head, base, plans, same))
        comparison = compare(base_side.stats, head_side.stats, alpha=options.alpha, min_effect=options.min_effect,
                             base_label=_recorded(base_side), head_label=head_side.label, same_content=same)
        comparison = replace(comparison, notes=notes)
        head_side = finish(head, h_plans, head_side, 1 if comparison.regressions else 0,
                           deltas_of(comparison, _recorded(base_side)))
    return PreMerge(comparison, base_side, head_side)


def against_baseline(repo: Path, *, baseline: dict[Key, CaseStats], baseline_label: str, head_ref: str | None,
                     settings: Settings, options: Options = Options(), progress: Progress | None = None,
                     on_plan: Callable[[int], None] | None = None) -> PreMerge:
    """The head only, compared with stored results (a run or a baseline file).

    Each case runs the fixed N planned for it (or its own adaptive repeats with ``options.adaptive``);
    a stored base that stopped adaptively has its stopping points corrected for in the comparison."""
    with _head_root(repo, head_ref) as (head_root, head_sha):
        head = session_for(head_root, settings, f"head {head_ref or 'working tree'}")
        try:
            plans, planned = sized(head_plans(head), options)
            head.preflight(plans)
            if on_plan is not None:
                on_plan(sum(p.runs.min for p in plans))
            services = [begin(head, head, plans, _git_info(repo, head_ref))]
            (head_runs,) = run_sides(head, [plans], services, progress)
            head_side = summarize(f"{head_ref or 'working tree'} @ {head_sha}", plans, head_runs)
            comparison = compare(baseline, head_side.stats, alpha=options.alpha, min_effect=options.min_effect,
                                 base_label=baseline_label, head_label=head_side.label)
            comparison = replace(comparison, notes=(runs_note(planned, options, len(plans)),))
            head_side = finish(head, plans, head_side, 1 if comparison.regressions else 0,
                               deltas_of(comparison, baseline_label))
        finally:
            head.close()
    return PreMerge(comparison, None, head_side)


def _recorded(side: SideResult) -> str:
    return side.label + (f" (run {side.run_id})" if side.run_id else "")


def _target_notes(head: Session, base: Session, plans: Sequence[CasePlan], same: set[Key]) -> list[str]:
    """Which targets changed between the refs, and which items were not run because nothing did."""
    names = sorted({p.target.name for p in plans})
    changed = [n for n in names if n in base.targets and base.targets[n].content_hash != head.targets[n].content_hash]
    new = [n for n in names if n not in base.targets]
    notes = [f"targets changed: {', '.join(changed) or 'none'}" + (f"; new: {', '.join(new)}" if new else "")]
    if same:
        notes.append(f"{len(same)} case(s) not run: the same request on both sides (unchanged by construction; "
                     "--rerun-unchanged runs them anyway)")
    return notes


def _git_info(repo: Path, head_ref: str | None) -> GitInfo:
    """The head's commit: the working tree's (with its branch and dirt), or the ref's."""
    return git_info(repo) if head_ref is None else GitInfo(git_sha(repo, head_ref), head_ref, False)


@contextmanager
def _head_root(repo: Path, head_ref: str | None) -> Iterator[tuple[Path, str]]:
    """The head is the working tree unless a ref is given."""
    if head_ref is None:
        yield repo, (_git(repo, "rev-parse", "--short", "HEAD") or "worktree") + "+"
        return
    with checkout(repo, head_ref) as found:
        yield found
