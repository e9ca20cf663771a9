"""``goldband alerts list | ack``: the stored alerts, and acknowledging them."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click

from goldband.cli.common import opened_store, store_option
from goldband.report.fmt import table


@click.group()
def alerts() -> None:
    """List and acknowledge alerts raised by the monitors (rules and sinks: alerts: in goldband.yaml)."""


@alerts.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Also resolved alerts (default: open and acknowledged).")
@click.option("--status", "statuses", multiple=True, type=click.Choice(["open", "acked", "resolved"]),
              help="Only alerts in this status (repeatable).")
@click.option("--model", help="Only this model (or LLM target).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--environment", metavar="E", help="Only environment E's alerts (e.g. production; 'default': alerts "
                                                  "of series without one).")
@store_option
def list_(show_all: bool, statuses: tuple[str, ...], model: str | None, limit: int, as_json: bool,
          environment: str | None, store_path: Path | None) -> None:
    """Alerts, newest first: status, severity, rule, series, when, how often, and delivery results.

    Alerts of several environments get an ``environment`` column; ``--environment E`` keeps one."""
    from goldband._util.environment import environment_filter, shown
    from goldband.alerts.engine import list_alerts

    wanted = list(statuses) or (None if show_all else ["open", "acked"])
    env = environment_filter(environment)
    with opened_store(store_path) as store:
        rows = list_alerts(store.conn, status=wanted, model=model, limit=limit, environment=env)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, default=str))
        return
    if not rows:
        click.echo("no alerts" + ("" if show_all or statuses else " open (--all shows resolved ones)"))
        return
    envs = any(r.get("environment") for r in rows)  # one (default) environment: no column, as before
    click.echo(table([[f"#{r['id']}", r["status"], r["severity"], r["rule"], r["model"],
                       *([shown(r.get("environment"))] if envs else []), r["metric"],
                       str(r["opened_at"])[:16], str(r["count"]), _deliveries(r["deliveries"]),
                       _clip(r["summary"] or "", 80)] for r in rows],
                     ["id", "status", "severity", "rule", "model", *(["environment"] if envs else []), "metric",
                      "opened", "n", "sinks", "summary"]))


def _deliveries(deliveries: dict[str, dict[str, object]]) -> str:
    return ", ".join(f"{name} {'ok' if d.get('status') == 'ok' else 'FAILED'}" for name, d in deliveries.items()) \
        or "-"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@alerts.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--note", help="Why, or what is being done about it.")
@click.option("--by", "by", help="Who acknowledges (default: the current user).")
@store_option
def ack(ids: tuple[int, ...], note: str | None, by: str | None, store_path: Path | None) -> None:
    """Acknowledge open alerts: they stay open (deduplicated, no new notifications) until they resolve."""
    from goldband.alerts.engine import ack as acknowledge

    with opened_store(store_path) as store:
        done = acknowledge(store, list(ids), by=by or _user(), note=note)
    skipped = [i for i in ids if i not in done]
    if done:
        click.echo(f"acknowledged {', '.join(f'#{i}' for i in done)}")
    if skipped:
        click.echo(f"already acknowledged or resolved: {', '.join(f'#{i}' for i in skipped)}")


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
