"""The pre-merge check: the same golden sets on two versions of the targets, one engine.

``--base REF`` and ``--head REF`` are git refs; each is checked out with ``git
archive`` into a temporary directory, so prompts, ``goldband.yaml`` and
cassettes come from that ref. The *golden sets* always come from the head: a
pre-merge check asks how the change behaves on today's cases. Both sides'
trials go to one engine at once, then each case is compared (see
``goldband.compare.cases``). A stored run or a baseline file can stand in for the
base (``baseline=``), so the base is not re-run.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from goldband.compare.cases import CaseStats, Comparison, Key, compare
from goldband.config.settings import Settings
from goldband.engine.execute import run_case
from goldband.engine.plan import CasePlan, CaseRun
from goldband.errors import ConfigError, GoldbandError
from goldband.results import Verdict
from goldband.session.session import Session
from goldband.session.settle import settle


@dataclass(frozen=True)
class SideResult:
    label: str  # "main @ 1a2b3c4"
    verdicts: dict[Key, Verdict]
    stats: dict[Key, CaseStats]


@dataclass(frozen=True)
class PreMerge:
    comparison: Comparison
    base: SideResult | None  # None when the base came from a stored run or file
    head: SideResult


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


def side_settings(root: Path, template: Settings) -> Settings:
    return replace(template, rootpath=root, paths=(str(root / "goldensets"),))


def session_for(root: Path, template: Settings, label: str) -> Session:
    """A session for one side; its config errors name the side."""
    try:
        return Session.create(side_settings(root, template))
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


def run_sides(head: Session, sides: list[list[CasePlan]]) -> list[list[CaseRun]]:
    """Every plan of every side through the head's one engine, all at once."""
    services = head.services()
    futures = [[services.engine.submit(run_case(services, p)) for p in plans] for plans in sides]
    return [[f.result() for f in side] for side in futures]


def summarize(label: str, plans: list[CasePlan], runs: list[CaseRun]) -> SideResult:
    verdicts: dict[Key, Verdict] = {}
    stats: dict[Key, CaseStats] = {}
    for plan, run in zip(plans, runs, strict=True):
        key = (plan.goldenset, plan.case.id, plan.target.name)
        v = settle(plan, run)
        verdicts[key] = v
        stats[key] = CaseStats(v.n, v.passes, v.errors, tuple(s for t in run.trials if (s := t.score) is not None))
    return SideResult(label, verdicts, stats)


def premerge(repo: Path, *, base_ref: str, head_ref: str | None, settings: Settings,
             alpha: float = 0.05, min_effect: float = 0.1) -> PreMerge:
    """Run both refs' targets on the head's golden sets and compare case by case."""
    with checkout(repo, base_ref) as (base_root, base_sha), _head_root(repo, head_ref) as (head_root, head_sha):
        head = session_for(head_root, settings, f"head {head_ref or 'working tree'}")
        base = session_for(base_root, settings, f"base {base_ref}")
        try:
            plans = head_plans(head)
            b_plans = base_plans(base, head, plans, f"base {base_ref}")
            head.preflight(plans + b_plans)
            head_runs, base_runs = run_sides(head, [plans, b_plans])
        finally:
            head.close()
            base.close()
    head_side = summarize(f"{head_ref or 'working tree'} @ {head_sha}", plans, head_runs)
    base_side = summarize(f"{base_ref} @ {base_sha}", b_plans, base_runs)
    comparison = compare(base_side.stats, head_side.stats, alpha=alpha, min_effect=min_effect,
                         base_label=base_side.label, head_label=head_side.label)
    return PreMerge(comparison, base_side, head_side)


def against_baseline(repo: Path, *, baseline: dict[Key, CaseStats], baseline_label: str, head_ref: str | None,
                     settings: Settings, alpha: float = 0.05, min_effect: float = 0.1) -> PreMerge:
    """The head only, compared with stored results (a run or a baseline file)."""
    with _head_root(repo, head_ref) as (head_root, head_sha):
        head = session_for(head_root, settings, f"head {head_ref or 'working tree'}")
        try:
            plans = head_plans(head)
            head.preflight(plans)
            (head_runs,) = run_sides(head, [plans])
        finally:
            head.close()
    head_side = summarize(f"{head_ref or 'working tree'} @ {head_sha}", plans, head_runs)
    comparison = compare(baseline, head_side.stats, alpha=alpha, min_effect=min_effect,
                         base_label=baseline_label, head_label=head_side.label)
    return PreMerge(comparison, None, head_side)


@contextmanager
def _head_root(repo: Path, head_ref: str | None) -> Iterator[tuple[Path, str]]:
    """The head is the working tree unless a ref is given."""
    if head_ref is None:
        yield repo, (_git(repo, "rev-parse", "--short", "HEAD") or "worktree") + "+"
        return
    with checkout(repo, head_ref) as found:
        yield found

