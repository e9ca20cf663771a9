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
    from goldband.cli.run import run, schema

    main.add_command(run)
    main.add_command(schema)


_register()
