"""``goldband compare``: the pre-merge check of a prompt or target change.

Exit status: 0 when no case regressed significantly, 1 when one did, 2 on
bad input, 3 when goldband failed to record a side (a lost store write). The
Markdown summary goes to ``--markdown`` (default ``reports/compare.md``) and
is appended to ``$GITHUB_STEP_SUMMARY`` when set; progress goes to stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from goldband.errors import GoldbandError, UsageError

if TYPE_CHECKING:
    from goldband.cli.progress import CountBar
    from goldband.compare.cases import CaseStats, Key
    from goldband.config.settings import Settings
    from goldband.session.premerge import Options, PreMerge


@click.command()
@click.option("--base", "base_ref", metavar="REF", help="Git ref of the base version (e.g. origin/main).")
@click.option("--head", "head_ref", metavar="REF", help="Git ref of the head version (default: the working tree).")
@click.option("--baseline", metavar="RUN|FILE",
              help="Compare with a stored run ('latest', 'latest:BRANCH', a run id) or a baseline file instead "
                   "of re-running --base.")
@click.option("--mode", type=click.Choice(["live", "record", "replay", "cached"]), help="Where samples come from.")
@click.option("--runs", type=click.IntRange(min=1),
              help="A fixed number of trials per case on both sides, instead of the planned N.")
@click.option("--detect", type=click.FloatRange(0, 1, min_open=True), default=0.3, show_default=True,
              help="The pass-rate drop the planned N finds with 80% power per case (from the case's band).")
@click.option("--max-runs", type=click.IntRange(min=2), default=50, show_default=True,
              help="The planned N's cap; above it the output says which drop N can still find.")
@click.option("--adaptive", is_flag=True,
              help="Run the cases' own adaptive repeats; p-values are corrected for every count they could stop at.")
@click.option("--rerun-unchanged", is_flag=True,
              help="Also run cases whose request is the same on both sides (by default: unchanged, not run).")
@click.option("--target", "targets", multiple=True, help="Compare only this target (repeatable).")
@click.option("--concurrency", type=click.IntRange(min=1), help="Maximum LLM calls in flight.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True,
              help="False discovery rate across cases (Benjamini-Hochberg).")
@click.option("--min-effect", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Smallest pass-rate change that counts as a regression or improvement.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("reports/compare.md"), show_default=True, help="Where to write the PR-comment Markdown.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Record both sides here (default: the project's store; 'off' records nothing).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the head run's HTML report here (default: the project's reports directory).")
@click.option("--progress/--no-progress", default=None,
              help="Show progress on stderr: a bar on a terminal, a line per tenth in a log (default: on).")
@click.option("-v", "--verbose", is_flag=True, help="List cases that are not significant or unchanged too.")
def compare(base_ref: str | None, head_ref: str | None, baseline: str | None, mode: str | None, runs: int | None,
            detect: float, max_runs: int, adaptive: bool, rerun_unchanged: bool, targets: tuple[str, ...],
            concurrency: int | None, alpha: float, min_effect: float, markdown_path: Path, store_path: Path | None,
            report_dir: Path | None, progress: bool | None, verbose: bool) -> None:
    """Run the golden sets on --base and --head and report per-case deltas with significance.

    Cases whose request is the same on both refs are not run. The others run a fixed N per side, planned
    from each case's band and --detect (or --runs N, or --adaptive), so the per-case test is valid.
    Both sides are recorded in the store as runs of kind pre-merge, with an HTML report of the head.
    """
    from goldband.session.premerge import Options

    if (base_ref is None) == (baseline is None):
        raise UsageError("give exactly one of --base REF (re-run the base) or --baseline RUN|FILE",
                         where="goldband compare")
    if adaptive and runs is not None:
        raise UsageError("--runs N (fixed) and --adaptive exclude each other", where="goldband compare",
                         fix="drop one of them")
    options = Options(alpha=alpha, min_effect=min_effect, detect=detect, max_runs=max_runs, runs=runs,
                      adaptive=adaptive, rerun_same=rerun_unchanged)
    settings = _settings(mode, targets, concurrency, store_path, report_dir)
    from goldband.cli.progress import CountBar

    bar = CountBar("goldband compare", enabled=progress is not False)
    try:
        result = _run(base_ref, head_ref, baseline, settings, options, bar)
    except GoldbandError as exc:  # whatever went wrong exits 2, so that 1 always means 'a regression'
        raise UsageError(str(exc)) from None
    finally:
        bar.close()
    _emit(result, markdown_path, verbose)
    for problem in result.problems:
        click.echo(f"goldband compare: {problem} (exit status 3: goldband failed, not the model)", err=True)
    sys.exit(3 if result.problems else 1 if result.comparison.regressions else 0)


def _settings(mode: str | None, targets: tuple[str, ...], concurrency: int | None, store: Path | None,
              report: Path | None) -> Settings:
    """Both sides' settings: the project's store and reports (both sides are checked out elsewhere)."""
    from goldband.cli.common import configured
    from goldband.config.settings import Settings

    cwd = Path.cwd()
    store_at, report_at = configured("store", store), configured("report", report)
    return Settings(rootpath=cwd, paths=(str(cwd / "goldensets"),), runs=None, targets=targets or None, mode=mode,
                    concurrency=concurrency, timeout_s=None, worker=False, kind="pre-merge",
                    store=_absolute(store_at) if store_at else "off",
                    report=str(report_at.resolve()) if report_at else "off")


def _absolute(store: Path) -> str:
    """An SQLite file as an absolute path (both sides run elsewhere); a PostgreSQL URL (a Path folds it) as given."""
    from goldband.store.postgres import postgres_url

    return postgres_url(str(store)) or str(store.resolve())


def _run(base_ref: str | None, head_ref: str | None, baseline: str | None, settings: Settings, options: Options,
         bar: CountBar) -> PreMerge:
    from goldband.session import premerge

    repo = Path.cwd()
    if base_ref is not None:
        return premerge.premerge(repo, base_ref=base_ref, head_ref=head_ref, settings=settings, options=options,
                                 progress=bar, on_plan=bar.plan)
    stats, label = _stored_baseline(baseline or "", repo)
    return premerge.against_baseline(repo, baseline=stats, baseline_label=label, head_ref=head_ref,
                                     settings=settings, options=options, progress=bar, on_plan=bar.plan)


def _stored_baseline(spec: str, root: Path) -> tuple[dict[Key, CaseStats], str]:
    """A baseline file, or a run from the project's store (``latest``: of this environment, GOLDBAND_ENVIRONMENT
    else goldband.yaml's, as a run records it)."""
    from goldband._util.environment import resolve_environment
    from goldband.cli.common import project, resolve_store
    from goldband.compare.baseline import load_baseline
    from goldband.session.storage import StoreHandle

    environment = resolve_environment(None, configured=project()[0].environment)
    store = StoreHandle(resolve_store(None))
    try:
        return load_baseline(spec, root=root, store=store, environment=environment)
    finally:
        store.close()


def _emit(result: PreMerge, markdown_path: Path, verbose: bool) -> None:
    from goldband.report import comparison as render
    from goldband.report.links import report_link

    comparison = result.comparison
    click.echo(render.terminal(comparison, verbose=verbose, why=result.head.trials))
    link = report_link(os.environ)
    text = render.markdown(comparison, why=render.why_cells(result.head.trials),
                           link=link.markdown() if link is not None else None)
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(text, encoding="utf-8")
    click.echo(f"Markdown summary: {markdown_path}")
    for side, run in (("base", result.base), ("head", result.head)):
        if run is not None and run.run_id:
            shown = next((str(p) for p in run.reports if p.suffix == ".html"), None)
            click.echo(f"{side} recorded as run {run.run_id} (pre-merge)" + (f" · report {shown}" if shown else ""))
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

