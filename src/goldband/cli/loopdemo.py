"""``goldband loop demo``: the closed loop end to end, seeded and offline (``goldband.registry.demo``).

Drift, retrain, gate, promote or park, rollback, on a churn model and on a prompt change, printed as a
timeline, then the registry's event log (``goldband registry history``). Exit status: 0 done; 2 the
folder cannot be used (not empty and not a previous demo's, or not writable) or the example files are
missing.
"""

from __future__ import annotations

from pathlib import Path

import click

from goldband.errors import UsageError


@click.group()
def loop() -> None:
    """The closed loop: drift -> retrain -> gate -> promote or park -> rollback, all recorded."""


@loop.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False),
              help="Write the demo here (default: a new temporary directory).")
@click.option("--seed", type=int, default=7, show_default=True)
def demo(directory: Path | None, seed: int) -> None:
    """A seeded, offline run of the whole loop: a churn model retrained after concept drift, gated,
    promoted, a bad retrain parked, a timed rollback; a prompt change gated on the bundled golden set."""
    from goldband.cli.registry import _events_table
    from goldband.registry.demo import LLM_MODEL, MODEL, run_loop_demo
    from goldband.registry.registry import Registry
    from goldband.store import open_store

    try:
        result = run_loop_demo(directory, seed=seed, echo=click.echo)
    except OSError as exc:
        raise UsageError(f"cannot write the demo: {exc}") from None
    store = result.store
    with open_store(store, create=False) as opened:
        registry = Registry(opened, root=result.directory)
        for model in (MODEL, LLM_MODEL):
            click.echo(f"\n$ goldband registry history {model} --store {store}")
            click.echo(_events_table(registry.history(model)))
    click.echo(f"\nexplore  goldband registry list {MODEL} --store {store}\n"
               f"         goldband registry show {MODEL}:3 --store {store}\n"
               f"         goldband retrain status --all --store {store}\n"
               f"         cd {result.directory} && goldband registry history {MODEL}")
