"""``goldband compare``: the pre-merge check of a prompt or target change.

Exit status: 0 when no case regressed significantly, 1 when one did, 2 on
bad input. The Markdown summary goes to ``--markdown`` (default
``reports/compare.md``) and is appended to ``$GITHUB_STEP_SUMMARY`` when set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from goldband.errors import GoldbandError, UsageError

if TYPE_CHECKING:
    from goldband.compare.cases import CaseStats, Comparison, Key
    from goldband.config.settings import Settings
    from goldband.session.premerge import PreMerge


@click.command()
@click.option("--base", "base_ref", metavar="REF", help="Git ref of the base version (e.g. origin/main).")
@click.option("--head", "head_ref", metavar="REF", help="Git ref of the head version (default: the working tree).")
@click.option("--baseline", metavar="RUN|FILE",
              help="Compare with a stored run ('latest', 'latest:BRANCH', a run id) or a baseline file instead "
                   "of re-running --base.")
@click.option("--mode", type=click.Choice(["live", "record", "replay", "cached"]), help="Where samples come from.")
@click.option("--runs", type=click.IntRange(min=1), help="Trials per case for both sides (fixed).")
@click.option("--target", "targets", multiple=True, help="Compare only this target (repeatable).")
@click.option("--concurrency", type=click.IntRange(min=1), help="Maximum LLM calls in flight.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True,
              help="False discovery rate across cases (Benjamini-Hochberg).")
@click.option("--min-effect", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Smallest pass-rate change that counts as a regression or improvement.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("reports/compare.md"), show_default=True, help="Where to write the PR-comment Markdown.")
@click.option("-v", "--verbose", is_flag=True, help="List unchanged cases too.")
def compare(base_ref: str | None, head_ref: str | None, baseline: str | None, mode: str | None, runs: int | None,
            targets: tuple[str, ...], concurrency: int | None, alpha: float, min_effect: float,
            markdown_path: Path, verbose: bool) -> None:
    """Run the golden sets on --base and --head and report per-case deltas with significance."""
    if (base_ref is None) == (baseline is None):
        raise UsageError("give exactly one of --base REF (re-run the base) or --baseline RUN|FILE",
                         where="goldband compare")
    try:
        result = _run(base_ref, head_ref, baseline, _settings(mode, runs, targets, concurrency), alpha, min_effect)
    except GoldbandError as exc:  # whatever went wrong exits 2, so that 1 always means 'a regression'
        raise UsageError(str(exc)) from None
    _emit(result.comparison, markdown_path, verbose)
    sys.exit(1 if result.comparison.regressions else 0)


def _settings(mode: str | None, runs: int | None, targets: tuple[str, ...], concurrency: int | None) -> Settings:
    from goldband.config.settings import Settings

    cwd = Path.cwd()
    return Settings(rootpath=cwd, paths=(str(cwd / "goldensets"),), runs=runs, targets=targets or None, mode=mode,
                    concurrency=concurrency, timeout_s=None, worker=False, kind="pre-merge")


def _run(base_ref: str | None, head_ref: str | None, baseline: str | None, settings: Settings, alpha: float,
         min_effect: float) -> PreMerge:
    from goldband.session import premerge

    repo = Path.cwd()
    if base_ref is not None:
        return premerge.premerge(repo, base_ref=base_ref, head_ref=head_ref, settings=settings,
                                 alpha=alpha, min_effect=min_effect)
    stats, label = _stored_baseline(baseline or "", repo)
    return premerge.against_baseline(repo, baseline=stats, baseline_label=label, head_ref=head_ref,
                                     settings=settings, alpha=alpha, min_effect=min_effect)


def _stored_baseline(spec: str, root: Path) -> tuple[dict[Key, CaseStats], str]:
    """A baseline file, or a run from the project's store."""
    from goldband.cli.common import resolve_store
    from goldband.compare.baseline import load_baseline
    from goldband.session.storage import StoreHandle

    store = StoreHandle(resolve_store(None))
    try:
        return load_baseline(spec, root=root, store=store)
    finally:
        store.close()


def _emit(comparison: Comparison, markdown_path: Path, verbose: bool) -> None:
    from goldband.report import comparison as render

    click.echo(render.terminal(comparison, verbose=verbose))
    text = render.markdown(comparison)
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(text, encoding="utf-8")
    click.echo(f"Markdown summary: {markdown_path}")
    if summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")


@click.group()
def baseline() -> None:
    """Baseline files: a run's per-case results, committed beside the golden sets."""


@baseline.command("save")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run", "run_ref", default="latest", show_default=True,
              help="The stored run to save: a run id, 'latest' or 'latest:BRANCH'.")
def save(path: Path, run_ref: str) -> None:
    """Write a stored run's per-case results to PATH (JSON), for --goldband-baseline PATH."""
    from goldband.compare.baseline import write_baseline

    stats, label = _stored_baseline(run_ref, Path.cwd())
    write_baseline(path, stats, source=label)
    click.echo(f"wrote {path}: {len(stats)} cases from {label}")

