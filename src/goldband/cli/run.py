"""``goldband run`` and ``goldband schema``.

``goldband run`` is pytest with goldband's options, so a run from the command
line and a run inside CI's ``pytest`` behave identically.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--runs", type=click.IntRange(min=1), help="Trials per case (overrides the golden set).")
@click.option("--target", "targets", multiple=True, help="Run only this target (repeatable).")
@click.option("--mode", type=click.Choice(["live", "record", "replay", "cached"]), help="Where samples come from.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Maximum LLM calls in flight.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def run(runs: int | None, targets: tuple[str, ...], mode: str | None, concurrency: int | None,
        pytest_args: tuple[str, ...]) -> None:
    """Run the golden sets (default: goldensets/) through pytest.

    Extra arguments go to pytest, e.g. ``goldband run -k refund -x``.
    """
    names_path = any(Path(a.split("::")[0]).exists() for a in pytest_args if not a.startswith("-"))
    args = list(pytest_args) if names_path else ["goldensets", *pytest_args]
    for flag, value in (("--goldband-runs", runs), ("--goldband-mode", mode),
                        ("--goldband-concurrency", concurrency)):
        if value is not None:
            args += [flag, str(value)]
    if targets:
        args += ["--goldband-target", ",".join(targets)]
    # a child process: the plugin then loads (and is assert-rewritten) like in any pytest run
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", *args]))


@click.command()
def schema() -> None:
    """Print the JSON Schema of golden set files (for editor validation)."""
    from goldband.goldenset import json_schema

    click.echo(json.dumps(json_schema(), indent=2))
