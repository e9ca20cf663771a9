"""``goldband history`` (runs, or one case's trend) and ``goldband show RUN``."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from goldband._util.environment import environment_filter, shown
from goldband._util.runid import RUN_KINDS
from goldband.cli.common import opened_store, store_option
from goldband.errors import UsageError
from goldband.report.fmt import rate, spark, table, usd

if TYPE_CHECKING:
    from goldband.report.data import RunReport
    from goldband.store import RunRow, Store

CASE_REF = re.compile(r"^(?:.*\.ya?ml::)?(?P<set>[^:\[\]]+)::(?P<case>[^:\[\]]+)(?:\[(?P<target>[^\]]+)\])?$")
KINDS = click.Choice(RUN_KINDS)
RUN_STATUSES = ("running", "complete", "incomplete")  # as a run reads (a killed run reads as incomplete)
COUNTED = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR")  # the verdict columns of the tables (PASS FAIL INC ERR)


@click.command()
@click.argument("case", required=False)
@click.option("--target", help="The target of CASE (default: every target the case ran on).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs.")
@click.option("--kind", type=KINDS, help="Only runs of this kind.")
@click.option("--version", "version", metavar="V",
              help="Only runs that used version V of a golden set (of --goldenset when given; of CASE's golden set).")
@click.option("--goldenset", help="Only runs that included this golden set (its version is then the one shown).")
@click.option("--branch", help="Only runs on this git branch.")
@click.option("--status", type=click.Choice(RUN_STATUSES), help="Only runs with this status.")
@click.option("--environment", metavar="E", help="Only runs in environment E (e.g. staging; 'default': runs "
                                                  "recorded without one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@store_option
def history(case: str | None, target: str | None, limit: int, kind: str | None, version: str | None,
            goldenset: str | None, branch: str | None, status: str | None, environment: str | None, as_json: bool,
            store_path: Path | None) -> None:
    """List recent runs with their kind and golden set versions, or show one CASE's verdicts across runs.

    CASE is SET::CASE or SET::CASE[TARGET] (as pytest names the item), e.g.
    ``goldband history support::refund-window[support-v1] --kind nightly --version 3``.
    A version change can move a case's numbers without any change to the target:
    filter by ``--version`` to compare like with like. Runs of several environments are
    listed per environment; ``--environment E`` keeps one.
    """
    env = environment_filter(environment)
    with opened_store(store_path) as store:
        if case is None:
            _runs(store, RunFilters(limit, kind, version, goldenset, branch, status, env), as_json)
        else:
            _case(store, case, target, RunFilters(limit, kind, version, environment=env), as_json)


@dataclasses.dataclass(frozen=True)
class RunFilters:
    """What ``goldband history`` narrows the runs to."""

    limit: int
    kind: str | None = None
    version: str | None = None
    goldenset: str | None = None
    branch: str | None = None
    status: str | None = None
    environment: str | None = None  # as shown: 'default' for runs recorded without one


def _runs(store: Store, f: RunFilters, as_json: bool) -> None:
    runs = store.runs(limit=f.limit, kind=f.kind, branch=f.branch, goldenset=f.goldenset, status=f.status,
                      version=f.version, environment=f.environment)
    counts = _verdict_counts(store, [r.id for r in runs])
    versions = store.goldenset_versions(r.id for r in runs)
    if as_json:
        click.echo(json.dumps([{**dataclasses.asdict(r), "environment": shown(r.environment),
                                "goldensets": versions.get(r.id, {}), "verdicts": counts.get(r.id, {})}
                               for r in runs], indent=1))
        return
    if not runs:
        narrowed = any(v is not None for v in dataclasses.astuple(f)[1:])
        click.echo(f"no runs match these filters in {store.where}" if narrowed else
                   f"no runs in {store.where} yet (run `goldband run` or pytest on your golden sets)")
        return
    groups = by_environment(runs)
    for env, group in groups.items():
        if len(groups) > 1 or f.environment is not None:
            click.echo(f"environment {env} ({len(group)} run{'s' if len(group) != 1 else ''})")
        rows = [[r.id, r.kind, r.status, _when(r.started_at), _duration(r), _git(r),
                 _versions(versions.get(r.id, {}), f.goldenset),
                 *(str(counts.get(r.id, {}).get(s, 0)) for s in COUNTED)] for r in group]
        click.echo(table(rows, ["run", "kind", "status", "started (UTC)", "took", "git", "golden sets", "PASS",
                                "FAIL", "INC", "ERR"], right={4, 7, 8, 9, 10}))


def by_environment(runs: list[RunRow]) -> dict[str, list[RunRow]]:
    """Runs per environment (as shown), newest first within each; environments in name order, default first."""
    groups: dict[str, list[RunRow]] = {}
    for run in runs:
        groups.setdefault(shown(run.environment), []).append(run)
    return dict(sorted(groups.items(), key=lambda item: (item[0] != "default", item[0])))


def _versions(versions: dict[str, str], only: str | None) -> str:
    """``support@3, extract@1``: each golden set the run used at its version (only ``only``'s when given)."""
    shown = [f"{name}@{version}" for name, version in versions.items() if only is None or name == only]
    return ", ".join(shown) or "-"


def _case(store: Store, ref: str, target: str | None, f: RunFilters, as_json: bool) -> None:
    match = CASE_REF.match(ref)
    if match is None:
        raise UsageError(f"'{ref}' is not a case reference; expected SET::CASE or SET::CASE[TARGET], "
                       "e.g. support::refund-window[support-v1]")
    gs, case_id = match["set"], match["case"]
    targets = [target or match["target"]] if (target or match["target"]) else _targets_of(store, gs, case_id)
    if not targets:
        raise UsageError(f"no verdicts for case '{gs}::{case_id}' in {store.where}; fix: check the name with "
                       "`goldband show latest --all`")
    data = {t: store.case_history(gs, case_id, t, limit=f.limit, kind=f.kind, version=f.version,
                                  environment=f.environment) for t in targets}
    versions = store.goldenset_versions({p.run_id for points in data.values() for p in points})
    if as_json:
        click.echo(json.dumps({t: [{**vars(p), "version": versions.get(p.run_id, {}).get(gs)} for p in points]
                               for t, points in data.items()}, indent=1))
        return
    for name, points in data.items():
        _case_table(gs, case_id, name, points, {run: v.get(gs, "-") for run, v in versions.items()})


def _case_table(gs: str, case_id: str, target: str, points: list[Any], versions: dict[str, str]) -> None:
    oldest_first = list(reversed(points))
    click.echo(f"{gs}::{case_id}[{target}]  pass rate {spark([p.pass_rate for p in oldest_first])}  "
               f"(oldest → newest, {len(points)} runs)")
    rows = [[p.run_id, p.kind, versions.get(p.run_id, "-"), _when(p.time), p.status, f"{p.passes}/{p.n}",
             rate(p.pass_rate),
             f"[{rate(p.pass_rate_low)}, {rate(p.pass_rate_high)}]" if p.pass_rate_low is not None else "-",
             rate(p.mean_score)] for p in points]
    click.echo(table(rows, ["run", "kind", "version", "started (UTC)", "verdict", "passed", "rate", "interval",
                            "score"], right={5, 6, 8}))
    click.echo("")


def _targets_of(store: Store, goldenset: str, case_id: str) -> list[str]:
    rows = store.conn.execute("SELECT DISTINCT target FROM verdicts WHERE goldenset = ? AND case_id = ? "
                              "ORDER BY target", [goldenset, case_id]).fetchall()
    return [r[0] for r in rows]


def _verdict_counts(store: Store, run_ids: list[str]) -> dict[str, dict[str, int]]:
    if not run_ids:
        return {}
    marks = ",".join("?" * len(run_ids))
    found: dict[str, dict[str, int]] = {}
    for run_id, status, count in store.conn.execute(
            f"SELECT run_id, status, COUNT(*) FROM verdicts WHERE run_id IN ({marks}) GROUP BY run_id, status",
            run_ids):
        found.setdefault(run_id, {})[status] = count
    return found


def _when(stamp: str | None) -> str:
    return (stamp or "-")[:19].replace("T", " ")


def _duration(run: RunRow) -> str:
    from datetime import datetime

    if not run.finished_at:
        return "-"
    seconds = (datetime.fromisoformat(run.finished_at) - datetime.fromisoformat(run.started_at)).total_seconds()
    if seconds < 120:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.1f}m" if seconds < 7200 else f"{seconds / 3600:.1f}h"


def _git(run: RunRow) -> str:
    if not run.git_sha and not run.git_branch:
        return "-"
    return f"{run.git_branch or '?'}@{(run.git_sha or '?')[:8]}{'*' if run.git_dirty else ''}"


@click.command()
@click.argument("run_ref", metavar="[RUN]", default="latest")
@click.option("--all", "show_all", is_flag=True, help="List every case, not only those not passing.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON (report.json's format, every trial).")
@store_option
def show(run_ref: str, show_all: bool, as_json: bool, store_path: Path | None) -> None:
    """Show one RUN: what ran, per golden set x target results, and the cases not passing.

    RUN is a run id, a unique prefix of one, or ``latest`` (the default, as for ``goldband report``).
    """
    from goldband.report.data import load_report
    from goldband.report.files import render

    with opened_store(store_path) as store:
        report = load_report(store, run_ref)
        if as_json:
            click.echo(render(report, "json", store=store.where, every_trial=True), nl=False)
            return
        click.echo(_show_text(report, show_all))


def groups_table(report: RunReport, *, cost: bool = False) -> str:
    """Per golden set x target: cases, verdict counts, pass rate, mean score, trials (and cost)."""
    from goldband.report.data import CROSS, group_name

    header = [f"golden set {CROSS} target", "cases", "PASS", "FAIL", "INC", "ERR", "rate", "score", "trials",
              *(["cost"] if cost else [])]
    rows = [[group_name(g.goldenset, g.target), str(len(g.cases)), *(str(g.counts.get(s, 0)) for s in COUNTED),
             rate(g.metrics.get("pass_rate")), rate(g.metrics.get("mean_score")), str(g.trials),
             *([usd(g.metrics.get("cost_usd"))] if cost else [])] for g in report.groups]
    return table(rows, header, right=set(range(1, len(header))))


def _show_text(report: RunReport, show_all: bool) -> str:
    run = report.run
    lines = [f"run {run.id}  {report.verdict}  ({run.kind}, {run.status}"
             + (f", {run.sessions} sessions" if run.sessions > 1 else "") + ")",
             f"  started {_when(run.started_at)} UTC · took {_duration(run)} · git {_git(run)} · mode {run.mode}",
             f"  golden sets {_versions(report.versions, None)}", f"  command {run.command or '-'}",
             *(f"  problem: {problem}" for problem in run.problems), "", groups_table(report)]
    cases = report.cases if show_all else [c for c in report.cases if c.status != "PASS"]
    if cases:
        lines += ["", "cases" if show_all else "not passing"]
        lines += [f"  {c.status:<12} {c.title}  {c.verdict.reason if c.verdict else 'not decided'}" for c in cases]
    return "\n".join(lines)
