"""The ``goldband`` command: a click group, one module per subcommand family.

Subcommand modules import heavy libraries inside their functions, so
``goldband --help`` stays fast. Register a new family with one ``add_command``.
"""

from __future__ import annotations

import click

from goldband import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="goldband")
def main() -> None:
    """goldband: LLM regression testing with golden sets, repeats and honest verdicts."""


def _register() -> None:
    from goldband.cli.alerts import alerts
    from goldband.cli.cache import cache
    from goldband.cli.compare import baseline, compare
    from goldband.cli.history import history, show
    from goldband.cli.judge import judge
    from goldband.cli.monitor import monitor
    from goldband.cli.nightly import nightly
    from goldband.cli.report import report
    from goldband.cli.run import run, schema
    from goldband.cli.store import store

    main.add_command(run)
    main.add_command(schema)
    for command in (history, show, report, store, cache, compare, baseline, judge):
        main.add_command(command)
    for command in (monitor, alerts, nightly):  # issue 6: monitors and alerts
        main.add_command(command)


_register()
