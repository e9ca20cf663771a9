"""``goldband monitor log | reference | check | status | demo``: watch deployed models and eval series."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from goldband.cli.common import opened_store, project, store_option
from goldband.errors import UsageError

if TYPE_CHECKING:
    from goldband.cli.checktext import Checked
    from goldband.config.monitors import ColumnsConfig
    from goldband.config.project import ProjectConfig
    from goldband.store import Store

SEVERITY = click.Choice(["info", "warning", "critical"])


@click.group()
def monitor() -> None:
    """Monitor deployed models (predictions, late labels, drift) and the LLM eval series."""


def column_options(fn: Any) -> Any:
    for name, what in reversed([("id", "prediction ids"), ("time", "prediction times"),
                                ("prediction", "predictions"), ("confidence", "confidences"),
                                ("label", "labels"), ("version", "model versions")]):
        fn = click.option(f"--{name}-column", f"{name}_column", metavar="NAME",
                          help=f"Column holding the {what} (default: goldband.yaml, else '{name}'"
                               + ("; 'prediction_id' for ids" if name == "id" else "") + ").")(fn)
    return click.option("--proba-prefix", metavar="PREFIX", help="Prefix of class-probability columns "
                                                                  "(default 'proba_': proba_yes, proba_no).")(fn)


def _columns(cfg: ProjectConfig, model: str, options: dict[str, str | None]) -> ColumnsConfig:
    from goldband.config.monitors import ColumnsConfig

    base = cfg.monitors.models[model].columns if model in cfg.monitors.models else ColumnsConfig()
    given = {k.removesuffix("_column"): v for k, v in options.items() if v is not None}
    return base.model_copy(update=given)


@monitor.command()
@click.argument("model")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--labels", is_flag=True, help="FILE holds labels (prediction id + label), not predictions.")
@click.option("--version", "version", help="Model version of rows without a version column (default: 1).")
@click.option("--features", help="Only these columns are features (comma-separated; default: all others).")
@click.option("--strict", is_flag=True, help="Exit with status 1 when any row was refused.")
@click.option("--environment", metavar="E", help="Where the predictions were served (e.g. production; default: "
                                                  "GOLDBAND_ENVIRONMENT, else goldband.yaml 'environment:').")
@column_options
@store_option
def log(model: str, file: Path, labels: bool, version: str | None, features: str | None, strict: bool,
        environment: str | None, store_path: Path | None, **columns: str | None) -> None:
    """Store a batch of predictions (or, with --labels, labels) from a CSV, JSONL or Parquet FILE.

    Bad rows are refused with their file:line; the rest are stored. Ingesting the
    same file twice stores it once (rows without an id get one from the file and line).
    """
    from goldband._util.environment import resolve_environment
    from goldband.watch.ingest import ingest_labels, ingest_predictions

    cfg, _ = project()
    env = resolve_environment(environment, configured=cfg.environment, where="--environment")
    cols = _columns(cfg, model, columns)
    with opened_store(store_path, create=True) as store:
        if labels:
            report = ingest_labels(store, model, file, columns=cols)
        else:
            chosen = [f.strip() for f in features.split(",")] if features else None
            report = ingest_predictions(store, model, file, version=version or _version(cfg, model), columns=cols,
                                        features=chosen, environment=env)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(report.summary())
    for problem in report.problems:
        click.echo(f"  refused {problem}", err=True)
    if report.refused > len(report.problems):
        click.echo(f"  ... and {report.refused - len(report.problems):,} more refused (see goldband monitor status)",
                   err=True)
    if strict and report.refused:
        raise SystemExit(1)


def _version(cfg: ProjectConfig, model: str) -> str | None:
    return cfg.monitors.models[model].version if model in cfg.monitors.models else None


@monitor.command()
@click.argument("model")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", "version", default=None, help="The model version this snapshot belongs to (default: 1).")
@click.option("--numeric", help="Columns to treat as numeric features (comma-separated).")
@click.option("--categorical", help="Columns to treat as categorical features (comma-separated).")
@click.option("--task", type=click.Choice(["classification", "regression"]), default=None)
@click.option("--replace", is_flag=True, help="Overwrite a different reference already registered for the version.")
@column_options
@store_option
def reference(model: str, file: Path, version: str | None, numeric: str | None, categorical: str | None,
              task: str | None, replace: bool, store_path: Path | None, **columns: str | None) -> None:
    """Register FILE (CSV, JSONL, Parquet) as MODEL's reference (training) snapshot.

    The drift tests compare logged predictions with it. Its content hash is stored: a
    changed file under the same version is refused. Feature kinds are inferred unless
    --numeric/--categorical name them (then only those columns are features).
    """
    from goldband.config.monitors import ModelMonitorConfig
    from goldband.watch.reference import register_reference
    from goldband.watch.sizing import reference_warning

    cfg, _ = project()
    model_cfg = cfg.monitors.models.get(model)
    kinds = {n.strip(): "numeric" for n in (numeric or "").split(",") if n.strip()}
    kinds.update({n.strip(): "categorical" for n in (categorical or "").split(",") if n.strip()})
    with opened_store(store_path, create=True) as store:
        ref = register_reference(store, model, file, version=version or (model_cfg.version if model_cfg else "1"),
                                 features=kinds or (model_cfg.features if model_cfg else None),
                                 columns=_columns(cfg, model, columns),
                                 task=task or (model_cfg.task if model_cfg else "classification"), replace=replace)
    kinds_text = ", ".join(f"{n} ({k})" for n, k in ref.spec.features.items())
    click.echo(f"{model} v{ref.version}: reference {file} ({ref.rows:,} rows, {ref.hash[:19]}…)\n  features: "
               f"{kinds_text}")
    extras = [name for name, present in (("predictions", ref.predictions is not None),
                                         ("confidences", ref.confidence is not None),
                                         ("labels", ref.labels is not None)) if present]
    click.echo(f"  with {', '.join(extras)}" if extras else "  without predictions, confidences or labels: "
               "output drift needs the model's predictions on the reference")
    small = reference_warning(ref, model_cfg or ModelMonitorConfig())
    if small:
        click.echo(f"  warning: {small}", err=True)


@monitor.command()
@click.argument("models", nargs=-1)
@click.option("--eval/--no-eval", "include_eval", default=True, help="Also watch the LLM eval series.")
@click.option("--rebuild", is_flag=True, help="Forget windows and detector states and replay everything "
                                              "(e.g. after raising label_delay).")
@click.option("--html", "html", type=click.Path(dir_okay=False, path_type=Path), help="Also write the status page.")
@click.option("--fail-on-alert", type=SEVERITY, help="Exit with status 6 when an alert of at least this severity "
                                                     "opened (see the README's exit status table).")
@click.option("--environment", metavar="E", help="Only the classic-ML models' predictions served in E (e.g. "
                                                  "production; 'default': those logged without one). Default: "
                                                  "every environment, each watched apart.")
@store_option
def check(models: tuple[str, ...], include_eval: bool, rebuild: bool, html: Path | None, fail_on_alert: str | None,
          environment: str | None, store_path: Path | None) -> None:
    """Run the monitors over the store once: new windows, the error stream, the eval series, alerts.

    Each environment a model version served in has its own windows, error
    stream, series and alerts. Prints each detector's state and each alert
    rule's state per series. With --fail-on-alert, exits 6 when an alert of
    at least that severity opened.
    """
    from goldband._util.environment import environment_filter
    from goldband.cli.checktext import check_status, print_check

    env = environment_filter(environment)
    done = run_check(store_path, list(models) or None, include_eval=include_eval, rebuild=rebuild,
                     with_status=html is not None, environment=env)
    print_check(done)
    if html is not None and done.status is not None:
        from goldband.watch.page import write_status_page

        click.echo(f"status page {write_status_page(done.status, html)}")
    code = check_status("goldband monitor check", done, fail_on_alert)
    if code:
        raise SystemExit(code)


def run_check(store_path: Path | None, models: list[str] | None, *, include_eval: bool = True,
              rebuild: bool = False, with_status: bool = False, environment: str | None = None) -> Checked:
    """One check over the store and, with ``with_status``, the status after it (read from the same open store);
    ``environment`` (as shown): only that environment's classic-ML predictions."""
    from goldband.alerts.engine import AlertEngine, list_alerts
    from goldband.cli.checktext import Checked
    from goldband.watch.overview import status as read
    from goldband.watch.runner import check as run

    cfg, root = project()
    with opened_store(store_path, create=True) as store:
        engine = AlertEngine(store, cfg.alerts, root=root)
        report = run(store, cfg.monitors, cfg.alerts, models=models, include_eval=include_eval, rebuild=rebuild,
                     root=root, engine=engine, environment=environment)
        _queue_retrains(store, cfg)
        active = tuple((a["id"], a["severity"], a["rule"]) for a in list_alerts(store.conn, status=["open", "acked"],
                                                                                   limit=None))
        return Checked(report, list(engine.steps.values()), cfg.monitors.eval,
                       read(store, cfg.monitors, environment=environment) if with_status else None, active)


def _queue_retrains(store: Store, cfg: ProjectConfig) -> None:
    """The closed loop: a retrain request for every alert a model's ``retrain.on`` listens to (once per
    incident); ``goldband retrain run`` runs them."""
    if not any(m.retrain for m in cfg.registry.models.values()):
        return
    from goldband._util.actor import actor
    from goldband.registry.trigger import queue_from_alerts

    for queued in queue_from_alerts(store, cfg.registry.models, actor=actor()):
        click.echo(f"queued retrain #{queued.request_id} of {queued.model}: {queued.reason}"
                   if queued.status == "queued" else f"skipped a retrain of {queued.model}: {queued.reason}")


@monitor.command()
@click.argument("model", required=False)
@click.option("--html", "html", type=click.Path(dir_okay=False, path_type=Path), help="Write the status page here.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--environment", metavar="E", help="Only environment E's models, eval series and alerts (e.g. "
                                                  "production; 'default': those recorded without one).")
@store_option
def status(model: str | None, html: Path | None, as_json: bool, environment: str | None,
           store_path: Path | None) -> None:
    """Per model: drifting features with their statistic and effect size, output drift, concept drift, alerts.

    A model version that served in several environments, and eval series of runs in several, are shown per
    environment (an ``environment`` column)."""
    from goldband._util.environment import environment_filter
    from goldband.watch.overview import status as read

    env = environment_filter(environment)
    cfg, _ = project()
    with opened_store(store_path) as store:
        current = read(store, cfg.monitors, model=model, environment=env)
    if as_json:
        click.echo(json.dumps(current.to_json(), indent=1, default=str))
    else:
        click.echo(current.render())
    if html is not None:
        from goldband.watch.page import write_status_page

        click.echo(f"status page {write_status_page(current, html)}", err=as_json)


@monitor.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Write the demo here (default: a new temporary directory).")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--llm", is_flag=True, help="Instead: an LLM app's production traces through evaluate, alerts, "
                                          "golden candidates, accept and status (illustrative traces).")
def demo(directory: Path | None, seed: int, llm: bool) -> None:
    """A seeded, offline example: a churn model meets covariate shift, then concept shift with late labels.

    With --llm: an LLM support app's traces and feedback, from evaluation to new golden cases.
    """
    try:
        if llm:
            from goldband.cli.llmdemo import run_llm_demo

            run_llm_demo(directory)
            return
        from goldband.watch.demo import run_demo

        run_demo(directory, seed=seed, echo=click.echo)
    except OSError as exc:
        raise UsageError(f"cannot write the demo: {exc}") from None
