"""``goldband run`` and ``goldband schema``.

``goldband run`` is pytest with goldband's options, so a run from the command
line and a run inside CI's ``pytest`` behave identically.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from goldband._util.runid import RUN_KINDS
from goldband.config.settings import MODES


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--runs", type=click.IntRange(min=1), help="Trials per case (overrides the golden set).")
@click.option("--target", "targets", multiple=True, help="Run only this target (repeatable).")
@click.option("--mode", type=click.Choice(MODES), help="Where samples come from.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Maximum LLM calls in flight.")
@click.option("--store", type=click.Path(dir_okay=False), help="The results store file, or 'off'.")
@click.option("--report", type=click.Path(file_okay=False), help="The reports directory, or 'off'.")
@click.option("--kind", type=click.Choice(RUN_KINDS),
              help="The kind of run recorded (default: ci when CI is set, else manual).")
@click.option("--resume", metavar="RUN", help="Continue a stopped or killed run: only its missing trials run.")
@click.option("--finalize", metavar="RUN",
              help="Finalize a sharded run over everything the store holds (its status, series points, set gates "
                   "and reports; idempotent), e.g. after 'goldband store merge'; runs nothing.")
@click.option("--progress/--no-progress", default=None,
              help="A progress bar while trials run (default: when stderr is a terminal).")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def run(runs: int | None, targets: tuple[str, ...], mode: str | None, concurrency: int | None, store: str | None,
        report: str | None, kind: str | None, resume: str | None, finalize: str | None, progress: bool | None,
        pytest_args: tuple[str, ...]) -> None:
    """Run the golden sets (default: goldensets/) through pytest, then summarize the run.

    Extra arguments go to pytest, e.g. ``goldband run -k refund -x`` or ``-n 4``.
    The run is recorded in the store and reported in reports/RUN/.
    ``goldband run finalize RUN`` (or ``--finalize RUN``) finalizes a sharded run instead.
    """
    from goldband.cli.progress import run_pytest

    if finalize is None and len(pytest_args) == 2 and pytest_args[0] == "finalize" and not Path("finalize").exists():
        finalize = pytest_args[1]  # ``goldband run finalize RUN``, the same as ``--finalize RUN``
    if finalize is not None:
        sys.exit(_finalize(finalize, store, report))
    if resume is not None and (done := _complete_run(resume, store)) is not None:
        from goldband.session.resume import nothing_to_resume

        click.echo(nothing_to_resume(done))
        return
    names_path = any(Path(a.split("::")[0]).exists() for a in pytest_args if not a.startswith("-"))
    args = list(pytest_args) if names_path else ["goldensets", *pytest_args]
    for flag, value in (("--goldband-runs", runs), ("--goldband-mode", mode),
                        ("--goldband-concurrency", concurrency), ("--goldband-store", _absolute(store)),
                        ("--goldband-report", _absolute(report)), ("--goldband-kind", kind),
                        ("--goldband-resume", resume)):
        if value is not None:
            args += [flag, str(value)]
    if targets:
        args += ["--goldband-target", ",".join(targets)]
    bar = sys.stderr.isatty() if progress is None else progress
    with tempfile.TemporaryDirectory(prefix="goldband-") as tmp:
        # a child process: the plugin then loads (and is assert-rewritten) like in any pytest run
        code, events = run_pytest([sys.executable, "-m", "pytest", *args], Path(tmp) / "events.jsonl", bar=bar)
    if events.run is not None:
        _summary(events.run)
    sys.exit(exit_status(code))


def exit_status(pytest_code: int) -> int:
    """pytest's exit status as goldband's (see ``goldband.cli``): its usage error (4) and an empty
    selection (5) are goldband's usage error, 2; 0, 1, 2 (collection errors) and 3 stay."""
    if pytest_code == 5:
        click.echo("goldband: no golden set case was selected (check the paths, -k and --target)", err=True)
    return 2 if pytest_code in (4, 5) else pytest_code


def _finalize(ref: str, store: str | None, report: str | None) -> int:
    """``goldband run --finalize RUN``: the run's exit status (its shards' worst, then its set gates)."""
    from goldband._util.yamlio import relative
    from goldband.cli.common import configured, opened_store
    from goldband.session.shards import finalize_run

    reports = configured("report", Path(report) if report is not None else None)
    with opened_store(Path(store) if store is not None else None) as db:
        done, unread = finalize_run(db, ref, reports)
    for line in unread:
        click.echo(line, err=True)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(done.counts.items())) or "no verdicts"
    html = [relative(p, Path.cwd()) for p in done.reports if p.suffix == ".html"]
    click.echo(f"run {done.id} {done.status}: {counts} · {done.trials} trials"
               + (f" · report {html[0]}" if html else ""))
    for problem in done.problems:
        click.echo(f"goldband: {problem}", err=True)
    return done.exit_status


def _complete_run(ref: str, store: str | None) -> str | None:
    """The id of the run ``ref`` names when it is complete (``goldband.session.resume.complete_run``)."""
    from goldband.cli.common import store_or_off
    from goldband.errors import GoldbandError
    from goldband.session.resume import complete_run

    try:
        path = store_or_off(Path(store) if store is not None else None)
    except GoldbandError:
        return None
    return complete_run(path, ref)


def _absolute(value: str | None) -> str | None:
    """Paths on goldband's command line are relative to where it runs (pytest would use the rootdir); a
    PostgreSQL URL stays one."""
    from goldband.store.postgres import postgres_url

    if value is None or value.strip().lower() in ("off", "none"):
        return value
    if (url := postgres_url(value)) is not None:
        return url
    return str(Path(value).expanduser().resolve())


def _summary(run: dict[str, Any]) -> None:
    """Per golden set x target results of the finished run, from the store."""
    from goldband._util.yamlio import relative
    from goldband.cli.history import groups_table
    from goldband.errors import GoldbandError
    from goldband.report.data import load_report
    from goldband.store import open_store
    from goldband.store.connection import translate

    try:
        with open_store(run["store"], create=False) as store, translate(store.path, "read"):
            report = load_report(store, run["id"])
    except GoldbandError as exc:
        click.echo(f"goldband: cannot summarize run {run['id']}: {exc}", err=True)
        return
    click.echo("")
    click.echo(groups_table(report, cost=True))
    html = [relative(Path(p), Path.cwd()) for p in run.get("reports", []) if p.endswith(".html")]
    click.echo(f"\nrun {run['id']} {run['status']}: {report.verdict}" + (f" · report {html[0]}" if html else ""))
    click.echo(f"details: goldband show {run['id']} · trends: goldband history")


@click.command()
def schema() -> None:
    """Print the JSON Schema of golden set files (for editor validation)."""
    from goldband.golden.goldenset import json_schema

    click.echo(json.dumps(json_schema(), indent=2))
