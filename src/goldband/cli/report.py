"""``goldband report RUN``: re-render a run's reports from the store, without re-running it."""

from __future__ import annotations

from pathlib import Path

import click

from goldband.cli.common import opened_store, resolve_reports, store_option
from goldband.errors import UsageError

FORMAT_CHOICE = click.Choice(["html", "md", "json"])


@click.command()
@click.argument("run_ref", metavar="RUN", default="latest")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Reports directory (default: GOLDBAND_REPORT, goldband.yaml 'reports:', reports/).")
@click.option("--format", "formats", type=FORMAT_CHOICE, multiple=True,
              help="Write only this format (repeatable; default: html, md and json).")
@click.option("--stdout", "to_stdout", is_flag=True,
              help="Print one format to stdout instead (e.g. --format md --stdout >> $GITHUB_STEP_SUMMARY).")
@click.option("--every-trial", is_flag=True,
              help="report.json lists every trial, a clean pass's too (default: one per output the page shows).")
@store_option
def report(run_ref: str, out: Path | None, formats: tuple[str, ...], to_stdout: bool, every_trial: bool,
           store_path: Path | None) -> None:
    """Write the HTML, Markdown and JSON reports of RUN (default: latest) into REPORTS/RUN/."""
    from goldband.report.data import load_report
    from goldband.report.files import FORMATS, render, write_reports

    with opened_store(store_path) as store:
        if to_stdout:
            if len(formats) != 1:
                raise UsageError("--stdout prints one format; add exactly one --format (html, md or json)")
            click.echo(render(load_report(store, run_ref), formats[0], store=store.where, every_trial=every_trial),
                       nl=False)
            return
        paths = write_reports(store, run_ref, resolve_reports(out), formats=formats or FORMATS,
                              every_trial=every_trial)
    for path in paths:
        click.echo(f"wrote {path}")
