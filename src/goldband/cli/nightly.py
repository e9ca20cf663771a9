"""``goldband nightly``: the golden sets as a nightly run, then the monitors, in one command.

It accepts every ``goldband run`` option (and pytest arguments), records the run
with kind ``nightly``, then runs ``goldband monitor check`` over the store: the
eval series get the new night's points, the classic-ML models their new
windows and labels, and the alert rules fire. The last line says why it exits
with its status (see ``goldband.cli.checktext`` and the README's table):

- 0: every case passed its band, and no alert at or above ``--fail-on-alert`` opened;
- 1: a case failed (FAIL, ERROR, or INCONCLUSIVE under ``inconclusive: fail``), no such alert;
- 6: such an alert opened, and no case failed;
- 7: a case failed and such an alert opened;
- 2 and 3 as for ``goldband run`` (usage error, goldband or its judge failed), alerts or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from goldband.cli.run import run

if TYPE_CHECKING:
    from goldband.cli.checktext import Checked

_OWN = {"kind"}  # fixed to nightly


def _params() -> list[click.Parameter]:
    return [p for p in run.params if p.name not in _OWN]


@click.pass_context
def _nightly(ctx: click.Context, /, monitors: bool, fail_on_alert: str | None, **options: Any) -> None:
    """Run the golden sets as a nightly run, then the drift monitors over the store (eval series and models).

    Takes every option of `goldband run`; extra arguments go to pytest.

    \b
    Exit status (the last line says which and why):
      0  every case passed, no alert at or above --fail-on-alert opened
      1  a case failed its band (FAIL, ERROR, or INCONCLUSIVE under inconclusive: fail)
      6  an alert at or above --fail-on-alert opened, and no case failed
      7  a case failed and such an alert opened
      2  usage error; 3 goldband or its judge failed (whatever the alerts)
    """
    from goldband.cli.checktext import nightly_status

    code = _pytest_status(ctx, options)
    checked = None
    if monitors:
        click.echo("\ngoldband nightly: monitors")
        checked = _monitors(options.get("store"))
    raise SystemExit(nightly_status(code, checked, fail_on_alert))


def _pytest_status(ctx: click.Context, options: dict[str, Any]) -> int:
    try:
        ctx.invoke(run, kind="nightly", **options)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def _monitors(store: str | None) -> Checked | None:
    """Run the check and print what it found; None when the store is off (nothing to monitor)."""
    from goldband.cli.checktext import print_check
    from goldband.cli.monitor import run_check
    from goldband.config.settings import OFF

    if store is not None and store.strip().lower() in OFF:  # the values the run's recorder takes for "off"
        click.echo("the store is off: nothing to monitor")
        return None
    done = run_check(Path(store) if store else None, None)
    print_check(done)
    return done


nightly = click.Command(
    "nightly", callback=_nightly, help=_nightly.__doc__,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    params=[*_params(),
            click.Option(["--monitors/--no-monitors"], default=True, help="Run the monitors after the golden sets."),
            click.Option(["--fail-on-alert"], type=click.Choice(["info", "warning", "critical"]),
                         help="Exit with status 6 (7 when a case failed too) when an alert of at least this "
                              "severity opened.")])
