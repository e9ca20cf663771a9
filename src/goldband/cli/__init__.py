"""The ``goldband`` command: a click group, one module per subcommand family.

Subcommand modules import heavy libraries inside their functions, so
``goldband --help`` stays fast. Register a new family with one ``add_command``.

Exit status, the same for every command:

- 0: done, and nothing failed;
- 1: the command found what it looks for: a case that fails, a significant
  regression, agreement below its floor, a damaged store (``goldband store check``);
- 2: a usage error: a bad option or argument, goldband.yaml, golden set, rubric
  or baseline, or a store that is missing, turned off or unusable; nothing ran
  that needed it (click's own usage errors exit 2 too);
- 3: goldband or its judge failed rather than the model: judge errors above
  their limit (``judge: max_error_share``), a write the store lost during a
  run or reports not written (the run is incomplete), or an internal error;
- 6: alerts fired: ``goldband monitor check`` or ``goldband nightly`` with
  ``--fail-on-alert SEVERITY`` opened an alert of at least that severity, and
  no case failed;
- 7: ``goldband nightly``: a case failed and such an alert opened
  (``goldband.cli.checktext``). 4 and 5 are pytest's own.

A goldband error anywhere below ``main`` is one ``Error: ...`` line on stderr
(where, what, expected, fix), never a traceback; its exit status is the
error's own (``goldband.errors.GoldbandError.exit_status``).
"""

from __future__ import annotations

from typing import Any

import click

from goldband._version import __version__
from goldband.errors import GoldbandError


class Main(click.Group):
    """The command group: turns a goldband error in any subcommand into its one-line message and exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GoldbandError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_status)


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="goldband")
def main() -> None:
    """goldband: LLM regression testing with golden sets, repeats and honest verdicts."""


def _register() -> None:
    from goldband.cli.alerts import alerts
    from goldband.cli.cache import cache
    from goldband.cli.compare import baseline, compare
    from goldband.cli.golden import golden
    from goldband.cli.history import history
    from goldband.cli.init import init
    from goldband.cli.judge import judge
    from goldband.cli.llmmonitor import evaluate, feedback, traces
    from goldband.cli.loop import gate, retrain
    from goldband.cli.loopdemo import loop
    from goldband.cli.monitor import monitor
    from goldband.cli.nightly import nightly
    from goldband.cli.registry import registry
    from goldband.cli.report import report
    from goldband.cli.run import run, schema
    from goldband.cli.show import show
    from goldband.cli.store import store

    main.add_command(run)
    main.add_command(schema)
    for command in (history, show, report, store, cache, compare, baseline, judge):
        main.add_command(command)
    for command in (monitor, alerts, nightly):  # issue 6: monitors and alerts
        main.add_command(command)
    for command in (traces, feedback, evaluate):  # issue 10: production LLM traffic
        monitor.add_command(command)
    main.add_command(golden)
    from goldband.cli.checks import checks
    main.add_command(checks)  # issue 15: the reference of every check
    main.add_command(init)  # issue 15: a starter project in the user's own repository
    from goldband.cli.importcmd import import_
    main.add_command(import_)  # issue 15: golden sets from OpenAI Evals, promptfoo, CSV and JSONL
    for command in (registry, gate, retrain, loop):  # issue 9: the closed loop
        main.add_command(command)


_register()
