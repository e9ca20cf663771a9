"""``goldband gate`` and ``goldband retrain run | status | approve | cancel``: the closed loop after an alert.

``goldband gate MODEL CANDIDATE`` decides whether a candidate may replace the
version serving now (``goldband.registry.gate``) and records it; a candidate
that fails is parked. ``goldband retrain run`` queues a request for every alert
a model's ``retrain.on`` listens to (once per incident), then runs each queued
request's pipeline: train, register, gate, promote or park (or wait for
``approve``), switch the monitors' reference, notify (``goldband.registry.pipeline``).

Exit status: 0 done (a gate passed; every pipeline ended promoted, parked or
waiting); 1 a gate failed (the candidate is parked) or a pipeline failed (see
``retrain status``); 2 a usage error or a refusal, with nothing changed.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from goldband.cli.common import store_option
from goldband.cli.registry import opened_registry
from goldband.errors import CommandFailed

if TYPE_CHECKING:
    from goldband.config.project import ProjectConfig
    from goldband.config.registry import RegistryModelConfig
    from goldband.registry.registry import Registry
    from goldband.store.registry import RetrainRequest

MODES = ["live", "record", "replay", "cached"]


def _config(root: Path) -> ProjectConfig:
    from goldband.config.project import load_config

    return load_config(root)[0]


@click.command()
@click.argument("model")
@click.argument("candidate")
@click.option("--against", default="production", show_default=True, metavar="ALIAS",
              help="The alias whose version the candidate must beat.")
@click.option("--mode", type=click.Choice(MODES), help="An llm gate's samples: where they come from.")
@click.option("--park/--no-park", default=True, show_default=True, help="Park a candidate that fails.")
@click.option("--json", "as_json", is_flag=True, help="Print the gate's result as JSON.")
@store_option
def gate(model: str, candidate: str, against: str, mode: str | None, park: bool, as_json: bool,
         store_path: Path | None) -> None:
    """May MODEL:CANDIDATE replace the version ALIAS points at? Decided on the same data for both.

    A classic model: its predict on the evaluation set, metrics by scikit-learn, paired tests with
    the example as the unit (goldband.yaml registry.models.MODEL.gate). An llm model: the golden sets
    on both targets in one engine. Exits 1 (and parks the candidate) when it does not pass.
    """
    from goldband.registry.gate import run_gate

    with opened_registry(store_path) as reg:
        outcome = run_gate(reg, _config(reg.root), model, candidate, against=against, mode=mode,
                           store=reg.store.where, park=park)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(outcome), indent=1, default=str))
    else:
        verdict = "PASSED" if outcome.passed else "FAILED" + (" (parked)" if park else "")
        against_text = f"{model}:{outcome.champion}" if outcome.champion else "nothing (the first version)"
        click.echo(f"gate #{outcome.id}: {model}:{candidate} against {against_text}: {verdict}")
        for reason in outcome.reasons:
            click.echo(f"  {reason}")
    if not outcome.passed:
        raise SystemExit(1)


@click.group()
def retrain() -> None:
    """Retraining after an alert: train, register, gate, promote or park, switch the monitors, notify."""


@retrain.command("run")
@click.argument("model", required=False)
@click.option("--now", "now", is_flag=True, help="Queue a retrain of MODEL by hand first (no alert needed).")
@click.option("--reason", default="by hand", show_default=True, help="Why, with --now (kept with the request).")
@click.option("--mode", type=click.Choice(MODES), help="An llm gate's samples: where they come from.")
@click.option("--json", "as_json", is_flag=True, help="Print the requests run as JSON.")
@store_option
def run(model: str | None, now: bool, reason: str, mode: str | None, as_json: bool, store_path: Path | None) -> None:
    """Queue retrains for matching alerts, then run every queued (or interrupted) pipeline to its end.

    One pipeline runs per model: while another process retrains MODEL this is refused (nothing is
    queued); without MODEL, a model retrained elsewhere is left to that process.
    """
    from goldband.errors import UsageError
    from goldband.registry import pipeline, trigger

    if now and model is None:
        raise UsageError("--now needs the MODEL to retrain", where="goldband retrain run --now")
    with opened_registry(store_path, create=True) as reg:
        config = _config(reg.root)
        if model is not None:
            pipeline.check_idle(reg, model)  # one pipeline per model: refused before anything is queued
        queued = trigger.queue_from_alerts(reg.store, config.registry.models, actor=reg.actor)
        if now and model is not None:
            queued.append(trigger.queue_manual(reg.store, model, _retrain_config(config, model), reason=reason,
                                               actor=reg.actor))
        _print_queued(queued, as_json)
        done = [pipeline.run_request(reg, config, r.id or 0, mode=mode)
                for r in trigger.active(reg.store, model, statuses=("queued", "running")) if _idle(reg, r)]
    _print_requests(done, as_json, empty="nothing to retrain")
    if any(r.status == "failed" for r in done):
        raise SystemExit(1)


def _idle(reg: Registry, request: RetrainRequest) -> bool:
    """Whether ``request``'s model is free to retrain here; a model another process retrains is left to it."""
    from goldband.registry.pipeline import running_elsewhere

    other = running_elsewhere(reg, request.model)
    if other is not None:
        what = "runs" if other.id == request.id else f"waits: request #{other.id} of the same model runs"
        click.echo(f"retrain #{request.id} of {request.model} {what} in {other.owner}", err=True)
    return other is None


def _retrain_config(config: ProjectConfig, model: str) -> RegistryModelConfig:
    from goldband.errors import ConfigError

    found = config.registry.models.get(model)
    if found is None or found.retrain is None:
        raise ConfigError(f"model '{model}' has no retrain configured", where="goldband.yaml (registry.models)",
                          expected=f"registry: models: {model}: retrain: {{on: [...], command: ...}}")
    return found


def _print_queued(queued: list[Any], as_json: bool) -> None:
    if as_json:
        return
    for q in queued:
        click.echo(f"queued retrain #{q.request_id} of {q.model}: {q.reason}" if q.status == "queued"
                   else f"skipped a retrain of {q.model}: {q.reason}")


def _print_requests(requests: list[RetrainRequest], as_json: bool, *, empty: str) -> None:
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(r) for r in requests], indent=1, default=str))
        return
    if not requests:
        click.echo(empty)
    for r in requests:
        version = f" {r.model}:{r.candidate}" if r.candidate else ""
        gate = f" gate #{r.gate_id}" if r.gate_id else ""
        click.echo(f"retrain #{r.id} {r.model}: {r.status}{version}{gate} ({r.trigger}: {r.reason})")


@retrain.command("status")
@click.argument("model", required=False)
@click.option("--all", "show_all", is_flag=True, help="Also finished requests.")
@click.option("--json", "as_json", is_flag=True, help="Print requests and their steps as JSON.")
@store_option
def status(model: str | None, show_all: bool, as_json: bool, store_path: Path | None) -> None:
    """Retrain requests and how far each pipeline got (each step's status, times and log)."""
    from goldband.registry.pipeline import STEPS
    from goldband.store import registry as db

    with opened_registry(store_path) as reg:
        found = db.requests(reg.store.conn, model)
        found = found if show_all else [r for r in found if r.status in ("queued", "running", "waiting", "failed")]
        steps = {r.id: db.steps(reg.store.conn, r.id or 0, STEPS) for r in found}
    if as_json:
        click.echo(json.dumps([{**dataclasses.asdict(r), "steps": [dataclasses.asdict(s) for s in steps[r.id]]}
                               for r in found], indent=1, default=str))
        return
    _print_requests(found, False, empty="no retrain requests" + ("" if show_all else " pending (--all: every one)"))
    for r in found:
        for s in steps[r.id]:
            log = f" log {s.log}" if s.log else ""
            click.echo(f"    {s.step:<10} {s.status:<8} {s.started_at} (attempt {s.attempts}){log}")


@retrain.command("approve")
@click.argument("request_id", type=int, metavar="ID")
@click.option("--reason", help="Why (kept in the event log).")
@click.option("--mode", type=click.Choice(MODES), help="An llm gate's samples: where they come from.")
@click.option("--json", "as_json", is_flag=True, help="Print the request as it ended, as JSON.")
@store_option
def approve(request_id: int, reason: str | None, mode: str | None, as_json: bool, store_path: Path | None) -> None:
    """Approve a request waiting after its gate passed (approval: manual), then promote, switch, notify."""
    from goldband.registry import pipeline

    with opened_registry(store_path) as reg:
        done = pipeline.approve(reg, _config(reg.root), request_id, reason=reason, mode=mode)
    _print_requests([done], as_json, empty="")
    if done.status == "failed":
        raise CommandFailed(f"retrain #{request_id} failed after approval", fix="goldband retrain status")


@retrain.command("cancel")
@click.argument("request_id", type=int, metavar="ID")
@click.option("--reason", help="Why (kept with the request).")
@click.option("--json", "as_json", is_flag=True, help="Print the cancelled request as JSON.")
@store_option
def cancel(request_id: int, reason: str | None, as_json: bool, store_path: Path | None) -> None:
    """Cancel a queued or waiting request (or one whose process died)."""
    from goldband.registry import pipeline

    with opened_registry(store_path) as reg:
        done = pipeline.cancel(reg, request_id, reason=reason)
    _print_requests([done], as_json, empty="")
