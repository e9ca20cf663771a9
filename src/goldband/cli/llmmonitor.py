"""``goldband monitor traces | feedback | evaluate``: an LLM application's production traffic.

The commands join the ``monitor`` group (``goldband.cli.monitor``): traces and
feedback come in from files (or ``TraceLogger`` in the serving process), and
``evaluate`` scores complete windows of them, writes the ``llm-prod`` series
and raises alerts through the same rules as every other monitor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from goldband.cli.common import opened_store, project, store_option
from goldband.errors import UsageError

if TYPE_CHECKING:
    from goldband.config.monitors import LlmAppConfig
    from goldband.config.project import ProjectConfig
    from goldband.judge.calibrate import Judged, Row

SEVERITY = click.Choice(["info", "warning", "critical"])


def _app(cfg: ProjectConfig, app: str) -> LlmAppConfig:
    from goldband.config.monitors import LlmAppConfig

    return cfg.monitors.llm.get(app) or LlmAppConfig()


@click.command()
@click.argument("app")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", "version", help="The version that served traces that carry none (default: the app's "
                                           "'version:' in goldband.yaml, else 1; name@alias is resolved).")
@click.option("--strict", is_flag=True, help="Exit with status 1 when any trace was refused.")
@click.option("--environment", metavar="E", help="Where the app served the calls (e.g. production; default: "
                                                  "GOLDBAND_ENVIRONMENT, else goldband.yaml 'environment:').")
@store_option
def traces(app: str, file: Path, version: str | None, strict: bool, environment: str | None,
           store_path: Path | None) -> None:
    """Store an LLM app's traces from FILE: goldband's JSON Lines form, or OTLP JSON (GenAI conventions).

    The app's redaction hook runs on every trace before it is stored. Bad records are
    refused with their file:line; the rest are stored. The same file twice is stored once.
    """
    from goldband._util.environment import resolve_environment
    from goldband.watch.traceingest import ingest_traces
    from goldband.watch.tracelog import redactor, resolve_version

    cfg, root = project()
    env = resolve_environment(environment, configured=cfg.environment, where="--environment")
    app_cfg = _app(cfg, app)
    hook = redactor(app_cfg.redact, root)
    with opened_store(store_path, create=True) as store:
        served = resolve_version(store.conn, version or app_cfg.version or "1")
        report = ingest_traces(store, app, file, version=served, redact=hook, environment=env)
    _print_report(report, strict)


@click.command()
@click.argument("app")
@click.argument("trace_id", required=False)
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path),
              help="A JSON Lines file of feedback (trace_id plus thumbs, comment, correction, label, by, time).")
@click.option("--thumbs", type=click.Choice(["up", "down"]), help="The user's verdict on the answer.")
@click.option("--comment", help="Free text.")
@click.option("--correction", help="The answer it should have given (proposed as the reference of a golden case).")
@click.option("--label", help="A reviewer's label (e.g. wrong-policy, hallucination).")
@click.option("--by", help="Who gave it (a user id, a reviewer's name).")
@store_option
def feedback(app: str, trace_id: str | None, file: Path | None, thumbs: str | None, comment: str | None,
             correction: str | None, label: str | None, by: str | None, store_path: Path | None) -> None:
    """Record feedback on a logged trace (TRACE_ID and options), or every line of a --file.

    Feedback on a trace id the app has no trace for is refused with a clear message.
    """
    from goldband.watch.traceingest import ingest_feedback
    from goldband.watch.tracelog import record_feedback

    if (file is None) == (trace_id is None):
        raise UsageError("give a TRACE_ID with --thumbs/--comment/--correction/--label, or --file F.jsonl")
    if file is not None:
        with opened_store(store_path, create=False) as store:
            report = ingest_feedback(store, app, file)
        _print_report(report, strict=False)
        return
    with opened_store(store_path, create=False) as store:
        path = store.path
    done = record_feedback(path, app, str(trace_id), thumbs=thumbs, comment=comment, correction=correction,
                           label=label, by=by)
    click.echo(f"{app} trace {trace_id}: {done.written} feedback row(s) stored")


def _print_report(report: Any, strict: bool) -> None:
    click.echo(report.summary())
    for problem in report.problems:
        click.echo(f"  refused {problem}", err=True)
    if report.refused > len(report.problems):
        click.echo(f"  ... and {report.refused - len(report.problems):,} more refused", err=True)
    if strict and report.refused:
        raise SystemExit(1)


@click.command()
@click.argument("app")
@click.option("--mode", type=click.Choice(["live", "record", "replay", "cached"]),
              help="Where the judge's grades come from (default: goldband.yaml).")
@click.option("--no-judge", "no_judge", is_flag=True, help="Only the deterministic checks and signals.")
@click.option("--limit", type=int, help="Evaluate at most this many new windows per version and environment.")
@click.option("--fail-on-alert", type=SEVERITY, help="Exit with status 6 when an alert of at least this severity "
                                                     "opened.")
@click.option("--environment", metavar="E", help="Only the traces served in E (e.g. production; 'default': those "
                                                  "logged without one). Default: every environment, each apart.")
@store_option
def evaluate(app: str, mode: str | None, no_judge: bool, limit: int | None, fail_on_alert: str | None,
             environment: str | None, store_path: Path | None) -> None:
    """Score new complete windows of APP's production traces and watch the series they make.

    Each version is evaluated per environment that served it: its own windows, series and alerts.

    Per trace: the checks of monitors.llm.APP.golden_set's defaults (or .checks), refusal,
    empty and truncated outputs; on a random sample, the rubric of .judge through the judge.
    Per window: series points (source llm-prod), the eval detectors, output drift
    against the version's first windows, and the alert rules.
    """
    from goldband._util.environment import environment_filter
    from goldband.alerts.engine import AlertEngine, list_alerts
    from goldband.alerts.rules import severity_at_least
    from goldband.clock import SystemClock, iso
    from goldband.watch.llmeval import app_checks, evaluate_app
    from goldband.watch.traceingest import unknown_app

    env = environment_filter(environment)
    cfg, root = project()
    app_cfg = _app(cfg, app)
    checks = app_checks(app_cfg, root, where=f"goldband.yaml: monitors.llm.{app}")
    ph = cfg.monitors.eval.page_hinkley
    knobs = {"warmup": ph.warmup, "threshold_sd": ph.threshold_sd, "delta_sd": ph.delta_sd, "min_sd": ph.min_sd}
    with opened_store(store_path, create=False) as store:
        missing = unknown_app(store, app)
        if missing is not None:
            raise missing
        engine = AlertEngine(store, cfg.alerts, root=root)
        with _grader(app_cfg, mode, no_judge, root) as grade:
            done = evaluate_app(store, app, app_cfg, checks, grade=grade, watch_cfg=knobs,
                                now=iso(SystemClock().now()), engine=engine, limit=limit, environment=env)
        engine.deliver()
        ids = set(engine.opened)
        opened = [a["severity"] for a in list_alerts(store.conn, limit=None) if a["id"] in ids]
    _print_evaluation(done, checks, grade is not None)
    if fail_on_alert and any(severity_at_least(s, fail_on_alert) for s in opened):
        raise SystemExit(6)


def _print_evaluation(done: Any, checks: Sequence[Any], judged: bool) -> None:
    click.echo(f"{done.app}: {len(done.windows)} new window(s); {len(checks)} check(s)"
               + ("; judge on a sample" if judged else "; no judge"))
    for w in done.windows:
        click.echo(f"  v{w.version}{f' in {w.environment}' if w.environment else ''} {w.summary}")
        for error in w.judge_errors[:3]:
            click.echo(f"    judge error (counted, not scored): {error}")
    for scope, n in done.waiting.items():
        if n:
            click.echo(f"  {scope}: {n} trace(s) waiting for a complete window")


@contextlib.contextmanager
def _grader(app_cfg: LlmAppConfig, mode: str | None, no_judge: bool,
            root: Path) -> Iterator[Any]:
    """The judge over rows for the app's rubric (None without ``judge:`` or with --no-judge)."""
    if app_cfg.judge is None or no_judge:
        yield None
        return
    from goldband.cli.judge import judge_session
    from goldband.judge.rubric import load_rubric
    from goldband.judge.workflows import judge_rows

    rubric = load_rubric(app_cfg.judge.rubric, root)
    with judge_session(mode) as (_, services, runtime):
        def grade(rows: Sequence[Row]) -> Sequence[Judged]:
            return services.engine.submit(judge_rows(runtime, services.engine, rubric, rows)).result()

        yield grade
