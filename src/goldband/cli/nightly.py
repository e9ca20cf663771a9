"""``goldband nightly``: the golden sets as a nightly run, then the monitors, in one command.

It accepts every ``goldband run`` option (and pytest arguments), records the run
with kind ``nightly``, then runs ``goldband monitor check`` over the store: the
eval series get the new night's points, the classic-ML models their new
windows and labels, and the alert rules fire. The exit status is pytest's
(1 when a case failed its band), or 1 when ``--fail-on-alert`` is given and an
alert of at least that severity opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from goldband.cli.run import run

_OWN = {"kind"}  # fixed to nightly


def _params() -> list[click.Parameter]:
    return [p for p in run.params if p.name not in _OWN]


@click.pass_context
def _nightly(ctx: click.Context, /, monitors: bool, fail_on_alert: str | None, **options: Any) -> None:
    """Run the golden sets as a nightly run, then the drift monitors over the store (eval series and models).

    Takes every option of `goldband run`; extra arguments go to pytest.
    """
    code = _pytest_status(ctx, options)
    if monitors:
        click.echo("\ngoldband nightly: monitors")
        _monitors(options.get("store"), fail_on_alert, code)
    raise SystemExit(code)


def _pytest_status(ctx: click.Context, options: dict[str, Any]) -> int:
    try:
        ctx.invoke(run, kind="nightly", **options)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def _monitors(store: str | None, fail_on_alert: str | None, code: int) -> None:
    from goldband.cli.monitor import exit_on_alerts, print_check, run_check
    from goldband.config.settings import OFF

    if store is not None and store.strip().lower() in OFF:  # the values the run's recorder takes for "off"
        click.echo("the store is off: nothing to monitor")
        return
    report, _ = run_check(Path(store) if store else None, None)
    print_check(report)
    if code == 0:
        exit_on_alerts(report, fail_on_alert)


nightly = click.Command(
    "nightly", callback=_nightly, help=_nightly.__doc__,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    params=[*_params(),
            click.Option(["--monitors/--no-monitors"], default=True, help="Run the monitors after the golden sets."),
            click.Option(["--fail-on-alert"], type=click.Choice(["info", "warning", "critical"]),
                         help="Exit with status 1 when an alert of at least this severity opened.")])
