"""The closed loop end to end, seeded and offline: ``goldband loop demo``.

A churn model (``examples/churn``) is trained, gated and promoted. It serves
the synthetic world of ``goldband monitor demo`` (``goldband.watch.demo``):
first as in training, then changed (contracts stop keeping customers), with
labels three days late. The monitors see its error rise while its inputs stay
put and open a concept-drift alert; the alert queues a retrain
(``goldband.registry.trigger``); the pipeline (``goldband.registry.pipeline``)
trains a new version on recent labelled production data, gates it against the
serving one, promotes it, switches the monitors' reference and notifies. A
deliberately bad retrain (``CHURN_SABOTAGE=1``: shuffled labels) is gated and
parked with its reasons, and a rollback puts the first version back, timed end
to end. On the LLM side, a prompt change (target ``support-v2``) is registered
as a candidate of model ``support`` and gated against ``support-v1`` on the
bundled golden set, replayed from cassettes. Every step is in the registry's
event log (``goldband registry history``).

The demo folder is a goldband project of its own: ``goldband.yaml`` (targets,
``monitors:``, ``alerts:``, ``registry:``: the example of how to configure the
loop), the example code, the support golden set with its prompts, cassettes and
rubrics, ``data/`` (what training and the gate read), the store with the
artifacts and each retrain's workspace and log under ``.goldband/``, and
``notifications.jsonl`` (what the alert sinks were told). It writes only there:
a new temporary folder unless one is given, and never into a non-empty folder
it did not write. The example code and golden set come from goldband's source
checkout (or, failing that, the current project).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from goldband.alerts.engine import AlertEngine, list_alerts
from goldband.clock import ManualClock
from goldband.config.project import ProjectConfig, load_config
from goldband.engine.targets import build_target, target_record
from goldband.errors import CommandFailed
from goldband.registry import loop, pipeline, trigger
from goldband.registry.demofolder import FRESH, bundled_source, copy_project, prepare, write_config
from goldband.registry.evaluation import predict_with
from goldband.registry.gate import GateOutcome, run_gate
from goldband.registry.registry import PRODUCTION, Registry
from goldband.store import Store, open_store
from goldband.store import registry as db
from goldband.store.registry import GateRow, RetrainRequest
from goldband.watch import db as monitor_db
from goldband.watch.demo import START, rows
from goldband.watch.log import PredictionLogger
from goldband.watch.runner import CheckReport, check

__all__ = ["LoopDemoResult", "run_loop_demo"]

MODEL, LLM_MODEL = "churn", "support"
PREDICT = "examples.churn.model:predict"
FEATURES = ("tenure_months", "monthly_charges", "support_calls", "contract", "payment_method")
LABEL_LAG_DAYS = 3
TRAINING_ROWS, HOLDOUT_ROWS, MIN_RETRAIN_ROWS = 5000, 2000, 1500
CALM_DAYS, MAX_DRIFT_DAYS, V2_DAYS = 3, 12, 4
ACTOR = "loop-demo"
ROLLBACK_REASON = ("INC-3107: the retention campaign, tuned on churn:1's scores, over-targets with churn:2's; "
                   "back to 1 while marketing re-tunes (churn:2 stays gated: promote it again after)")
FORCED_REASON = ("support-v1 served before the registry existed: its two known failures (express-shipping, "
                 "discount-injection) are tracked, and support-v2 is the fix")


@dataclass
class LoopDemoResult:
    """What happened, for the CLI and the tests."""

    directory: Path
    store: Path
    notifications: Path
    requests: list[RetrainRequest] = field(default_factory=list)
    gates: list[GateRow] = field(default_factory=list)
    trigger_alert: dict[str, Any] | None = None  # the concept-drift alert that queued the retrain of v2
    parked: dict[str, str] = field(default_factory=dict)  # ref -> why
    rollback_seconds: float | None = None
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)  # model -> alias -> version
    llm_gates: list[GateOutcome] = field(default_factory=list)
    days: list[dict[str, Any]] = field(default_factory=list)


def run_loop_demo(directory: Path | None = None, *, seed: int = 7, per_day: int = 1000,
                  source: Path | None = None, echo: Callable[[str], None] = print) -> LoopDemoResult:
    """Run the whole story into ``directory`` (see the module docstring); what happened."""
    origin = source or bundled_source()
    folder = prepare(directory)
    copy_project(origin, folder)
    write_config(folder, origin, eval_version="1")
    result = LoopDemoResult(folder, folder / ".goldband" / "store.db", folder / "notifications.jsonl")
    echo(f"goldband loop demo: the closed loop on a seeded churn model and the bundled support prompt, offline\n"
         f"  directory  {folder}\n  config     {folder / 'goldband.yaml'} (registry, monitors, alerts)\n")
    with open_store(result.store) as store, _Loop.opened(folder, origin, store, seed, per_day, result, echo) as demo:
        demo.story()
    return result


# --------------------------------------------------------------------------- the story


@dataclass
class _Loop:
    """The demo's state: its project, store, registry, clock, world and the loggers of the serving versions."""

    folder: Path
    origin: Path
    store: Store
    registry: Registry
    clock: ManualClock
    engine: AlertEngine
    rng: np.random.Generator
    per_day: int
    result: LoopDemoResult
    echo: Callable[[str], None]
    sinks: io.StringIO
    config: ProjectConfig
    loggers: dict[str, PredictionLogger] = field(default_factory=dict)
    pending: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    day: int = 0

    @classmethod
    @contextlib.contextmanager
    def opened(cls, folder: Path, origin: Path, store: Store, seed: int, per_day: int, result: LoopDemoResult,
               echo: Callable[[str], None]) -> Iterator[_Loop]:
        clock = ManualClock(START - timedelta(days=1))
        sinks = io.StringIO()
        config = load_config(folder)[0]
        demo = cls(folder, origin, store, Registry(store, root=folder, clock=clock, actor=ACTOR), clock,
                   AlertEngine(store, config.alerts, clock=clock, root=folder, stream=sinks),
                   np.random.default_rng(seed), per_day, result, echo, sinks, config)
        try:
            yield demo
        finally:
            for logger in demo.loggers.values():
                logger.close()

    def story(self) -> None:
        self.echo("day  what happened")
        self._first_version()
        request = self._serve_until_retrain()
        since = self._wait_for_labels(request)
        self._retrain(request, since)
        self._serve(V2_DAYS, "concept shift")
        self._bad_retrain()
        self._rollback()
        self._llm_side()
        self._finish()

    def at(self, day: int, hour: int) -> None:
        self.day = day
        self.clock.set(START + timedelta(days=day - 1, hours=hour))

    def say(self, text: str, *, day: int | None = None) -> None:
        self.echo(f"{'' if day is None else day:>3}  {text}")

    def flush_sinks(self) -> None:
        """Forget what the log sink printed: the timeline shows the alerts and which sinks were told."""
        self.sinks.seek(0)
        self.sinks.truncate()

    def shown(self, text: str) -> str:
        """Paths inside the demo folder, relative to it."""
        return text.replace(f"{self.folder}{os.sep}", "")

    # -- day 0: the first version -------------------------------------------------------------------

    def _first_version(self) -> None:
        self.at(0, 9)
        _write_rows(self.folder / "data" / "training_rows.csv", rows(self.rng, TRAINING_ROWS, "as in training"))
        _write_rows(self.folder / "data" / "holdout.csv", rows(self.rng, HOLDOUT_ROWS, "as in training"))
        self.say(f"{TRAINING_ROWS:,} labelled customers as in training -> data/training_rows.csv; a holdout of "
                 f"{HOLDOUT_ROWS:,} -> data/holdout.csv (eval version 1)", day=0)
        queued = trigger.queue_manual(self.store, MODEL, self.config.registry.models[MODEL],
                                      reason="the first model", clock=self.clock, actor=ACTOR)
        self._pipeline(queued.request_id)

    # -- serving, monitoring, alerts ----------------------------------------------------------------

    def _serve_until_retrain(self) -> int:
        for day in range(1, CALM_DAYS + MAX_DRIFT_DAYS + 1):
            queued = self._day(day, "as in training" if day <= CALM_DAYS else "concept shift")
            if queued:
                return queued[0].request_id
        raise CommandFailed(f"the monitors raised no concept-drift alert in {MAX_DRIFT_DAYS} days of the changed "
                            "world", where="goldband loop demo", fix="run it with another --seed")

    def _serve(self, days: int, phase: str) -> None:
        for day in range(self.day + 1, self.day + 1 + days):
            self._day(day, phase)

    def _day(self, day: int, phase: str) -> list[trigger.Queued]:
        """One day: the serving version's predictions, the labels of three days ago, the nightly check; any
        retrain the alerts queue."""
        self.at(day, 6)
        serving = self.registry.resolve(f"{MODEL}@{PRODUCTION}")
        logged = self._predict_and_log(day, phase, serving.version.version, serving.path)
        labelled = self._labels(self.pending.pop(day - LABEL_LAG_DAYS, []), day)
        self.at(day, 23)
        report = check(self.store, self.config.monitors, self.config.alerts, clock=self.clock, root=self.folder,
                       engine=self.engine)
        queued = trigger.queue_from_alerts(self.store, self.config.registry.models, clock=self.clock, actor=ACTOR)
        self._day_line(day, phase, serving.version.version, logged, labelled, report, queued)
        return [q for q in queued if q.status == "queued"]

    def _predict_and_log(self, day: int, phase: str, version: str, artifact: Path | None) -> int:
        world = rows(self.rng, self.per_day, phase)
        frame = {name: [r["features"][name] for r in world] for name in FEATURES}
        scores = predict_with(PREDICT, self.folder)(artifact, frame)
        logger = self._logger(version)
        base = START + timedelta(days=day - 1)
        self.pending[day] = []
        for i, (row, p) in enumerate(zip(world, scores, strict=True)):
            when = base + timedelta(seconds=(i + 0.5) * 86400 / len(world))
            pid = f"d{day:02d}-{i:04d}"
            logger.log(row["features"], int(p >= 0.5), proba={"0": round(1 - p, 4), "1": round(p, 4)}, time=when,
                       prediction_id=pid)
            self.pending[day].append((pid, row["label"]))
        return len(world)

    def _logger(self, version: str) -> PredictionLogger:
        if version not in self.loggers:
            self.loggers[version] = PredictionLogger(MODEL, store=self.store.path, version=version, clock=self.clock)
        return self.loggers[version]

    def _labels(self, labels: list[tuple[str, int]], day: int) -> int:
        """A day's labels, three days late and in shuffled order."""
        logger = next(iter(self.loggers.values()))
        for k in self.rng.permutation(len(labels)):
            pid, label = labels[int(k)]
            logger.log_label(pid, label, time=self.clock.now())
        for each in self.loggers.values():
            each.flush()
        return len(labels)

    def _day_line(self, day: int, phase: str, version: str, logged: int, labelled: int, report: CheckReport,
                  queued: list[trigger.Queued]) -> None:
        concept = next((m.concept for m in report.models if m.model == MODEL and m.version == version), None)
        error = f"{concept.mean_error:.3f}" if concept and concept.mean_error is not None else "-"
        fired = [d.event for d in report.delivered]
        self.result.days.append({"day": day, "phase": phase, "serving": version, "predictions": logged,
                                 "labels": labelled, "error": error, "alerts": [(e.id, e.rule) for e in fired]})
        self.say(f"{phase:<15}  {MODEL}:{version} serves {logged:,}, labels {labelled:>5,}, error {error:>5}",
                 day=day)
        for e in fired:
            self.say(f"  ALERT #{e.id} {e.rule} ({e.severity}): {_clip(e.summary, 130)}")
        self.flush_sinks()
        for q in queued:
            self.say(f"  -> retrain #{q.request_id} {q.status} by the alert (retrain.on: concept_drift)")

    # -- retraining ---------------------------------------------------------------------------------

    def _wait_for_labels(self, request_id: int) -> str:
        """Serve on until enough labelled predictions made since the change (as the detector dated it) are in:
        ``MIN_RETRAIN_ROWS`` to train on and ``FRESH`` more for the gate. The change's start, for the export."""
        request = db.request(self.store.conn, request_id)
        assert request is not None and request.alert_id is not None
        alert = next(a for a in list_alerts(self.store.conn, limit=None) if a["id"] == request.alert_id)
        self.result.trigger_alert = alert
        since = str(alert["details"].get("start") or alert["first_time"])
        for _ in range(MAX_DRIFT_DAYS):
            found = len(self._labelled_since(since))
            if found >= MIN_RETRAIN_ROWS + FRESH:
                break
            self.say(f"  retrain #{request_id} waits for labels: {found:,} labelled predictions made since the change "
                     f"({_minute(since)}), {MIN_RETRAIN_ROWS + FRESH:,} wanted ({MIN_RETRAIN_ROWS:,} to train on, "
                     f"{FRESH} fresh for the gate)")
            self._day(self.day + 1, "concept shift")
        return since

    def _retrain(self, request_id: int, since: str) -> None:
        self.at(self.day, 23)
        self.clock.advance(1800)
        _write_rows(self.folder / "data" / "holdout.csv", rows(self.rng, HOLDOUT_ROWS, "concept shift"))
        write_config(self.folder, self.origin, eval_version="2")
        self.config = load_config(self.folder)[0]
        self.say(f"the team labels {HOLDOUT_ROWS:,} customers of the changed world as the new holdout: "
                 "data/holdout.csv (eval version 2 in goldband.yaml)")
        self._export(since)
        self._pipeline(request_id)

    def _labelled_since(self, since: str) -> list[tuple[dict[str, Any], str]]:
        """Labelled production predictions (features, label as JSON) made since ``since``, oldest first."""
        found = self.store.conn.execute(
            "SELECT p.features, p.layout, l.label FROM monitor_predictions p JOIN monitor_labels l "
            "ON l.model = p.model AND l.prediction_id = p.prediction_id WHERE p.model = ? AND p.time >= ? "
            "ORDER BY p.time, p.id", [MODEL, since]).fetchall()
        known = monitor_db.layouts(self.store.conn)
        return [(monitor_db.decode_features(known, layout, f), str(y)) for f, layout, y in found]

    def _export(self, since: str) -> int:
        """The labelled production predictions made since the change the detector dated, less the newest
        ``FRESH`` (the gate's fresh rows: the candidate never trains on what it is judged on)."""
        found = self._labelled_since(since)
        kept = [{"features": f, "label": json.loads(y)} for f, y in found[:max(0, len(found) - FRESH)]]
        _write_rows(self.folder / "data" / "training_rows.csv", kept)
        self.say(f"data/training_rows.csv: {len(kept):,} labelled predictions made since {_minute(since)} (the change "
                 f"as the detector dated it), less the newest {FRESH} (the gate's fresh rows)")
        return len(kept)

    def _pipeline(self, request_id: int) -> RetrainRequest:
        with _on_path(Path(sys.executable).parent):
            done = pipeline.run_request(self.registry, self.config, request_id, stream=self.sinks)
        self.result.requests.append(done)
        self._report_request(done)
        return done

    def _report_request(self, done: RetrainRequest) -> None:
        """The pipeline's steps as they were recorded (``goldband retrain status`` shows the same)."""
        steps = {s.step: s for s in db.steps(self.store.conn, done.id or 0)}
        cause = f"queued by alert #{done.alert_id}" if done.alert_id is not None else \
            f"queued by hand: {_clip(done.reason or '', 90)}"
        self.say(f"retrain #{done.id}, {cause}")
        if "train" in steps:
            train = steps["train"]
            took = f"{train.detail['seconds']:.2f} s" if "seconds" in train.detail else train.status
            self.say(f"  train     examples/churn/train.py in a subprocess: {took} "
                     f"(log {self.shown(train.log or '-')})")
        if done.candidate:
            self.say(f"  register  {MODEL}:{done.candidate} (artifact and training data, by sha256)")
        gate = db.gate(self.store.conn, done.gate_id or 0)
        if gate is not None:
            self.result.gates.append(gate)
            self._report_gate(gate)
        self._report_outcome(done, steps)

    def _report_outcome(self, done: RetrainRequest, steps: dict[str, Any]) -> None:
        if done.status == "parked":
            why = self.registry.parked(MODEL, done.candidate or "") or ""
            self.result.parked[f"{MODEL}:{done.candidate}"] = why
            self.say(f"  decide    PARKED: {_clip(why, 100)}")
        elif done.status == "promoted":
            self.say(f"  decide    PROMOTED: {MODEL}@production -> {done.candidate}")
        else:
            self.say(f"  decide    {done.status.upper()}: {_clip(done.reason or '', 100)}")
        reference = steps.get("reference")
        if reference is not None and reference.status == "done":
            self.say(f"  monitors  {self.shown(str(reference.detail.get('reference')))}")
        notified = steps["notify"].detail.get("notified", {}) if "notify" in steps else {}
        if notified:
            self.say("  notify    " + ", ".join(f"{sink} {result}" for sink, result in notified.items()))
        self.flush_sinks()

    def _report_gate(self, gate: GateRow) -> None:
        against = f"{MODEL}:{gate.champion}" if gate.champion else "nothing (the first version: floors only)"
        holdout, fresh = gate.eval_set.get("rows", 0), gate.eval_set.get("fresh", 0)
        self.say(f"  gate #{gate.id}   {MODEL}:{gate.candidate} against {against} on {holdout + fresh:,} examples "
                 f"(holdout v{gate.eval_set.get('version')} {holdout:,} + {fresh} fresh from production): "
                 f"{'PASSED' if gate.decision == 'pass' else 'FAILED'}")
        failures = gate.details.get("failures", [])
        for reason in gate.reasons:
            self.say(f"            {'NO' if reason in failures else 'ok'}  {_clip(reason, 150)}")

    def _bad_retrain(self) -> None:
        self.at(self.day, 23)
        self.clock.advance(2400)
        since = str((self.result.trigger_alert or {}).get("details", {}).get("start") or "")
        self._export(since)
        queued = trigger.queue_manual(self.store, MODEL, self.config.registry.models[MODEL], clock=self.clock,
                                      reason="weekly retrain, with a bug: CHURN_SABOTAGE=1 shuffles the labels",
                                      actor=ACTOR)
        with _environment(CHURN_SABOTAGE="1"):
            self._pipeline(queued.request_id)

    # -- rollback -----------------------------------------------------------------------------------

    def _rollback(self) -> None:
        self.at(self.day + 1, 10)
        started = time.perf_counter()
        moved = loop.rollback(self.registry, self.config, MODEL, reason=ROLLBACK_REASON,
                              evidence={"incident": "INC-3107"}, stream=self.sinks)
        self.result.rollback_seconds = time.perf_counter() - started
        event = moved.event
        self.say(f"rollback {MODEL} production {event.from_version} -> {event.to_version} in "
                 f"{self.result.rollback_seconds * 1000:.1f} ms end to end (alias move, monitors' reference, "
                 f"notification: {', '.join(f'{k} {v}' for k, v in moved.notified.items())})", day=self.day)
        self.say(f"  reason    {ROLLBACK_REASON}")
        self.say(f"  monitors  {self.shown(moved.reference or '-')}")
        self.flush_sinks()

    # -- the LLM side -------------------------------------------------------------------------------

    def _llm_side(self) -> None:
        self.at(self.day + 1, 9)
        self.say("LLM side: model 'support' (kind llm): a version is a target's configuration (prompt text, model, "
                 "params)", day=self.day)
        first = self._register_target("support-v1", "the prompt serving today")
        self._llm_gate(first)
        self.clock.advance(600)
        event = loop.promote(self.registry, self.config, LLM_MODEL, first, reason=FORCED_REASON, force=True,
                             stream=self.sinks).event
        self.say(f"  force     promoted anyway (the event log marks it forced: {event.forced}): "
                 f"{FORCED_REASON}")
        self.clock.advance(600)
        candidate = self._register_target("support-v2", "prices quoted exactly, no discount codes")
        outcome = self._llm_gate(candidate)
        if outcome.passed:
            improved = outcome.metrics.get("changes", {}).get("improved", 0)
            loop.promote(self.registry, self.config, LLM_MODEL, candidate, stream=self.sinks,
                         reason=f"gate #{outcome.id}: no failing case, no significant regression, {improved} improved")
            self.say(f"  decide    PROMOTED: {LLM_MODEL}@production -> {candidate}")
        self.flush_sinks()

    def _register_target(self, name: str, what: str) -> str:
        spec = self.config.targets[name]
        target = build_target(name, spec, self.folder, self.folder / "goldband.yaml")
        version = self.registry.register(LLM_MODEL, kind="llm", target=target_record(target),
                                         description=spec.description, reason=f"{name}: {what}")
        self.say(f"  register  {version.ref} from target {name} ({spec.prompt}, {target.content_hash[:19]}…): {what}")
        return version.version

    def _llm_gate(self, number: str) -> GateOutcome:
        outcome = run_gate(self.registry, self.config, LLM_MODEL, number, mode="replay", store=str(self.store.path))
        self.result.llm_gates.append(outcome)
        against = f"{LLM_MODEL}:{outcome.champion}" if outcome.champion else "nothing (the first version)"
        counts = outcome.metrics.get("verdicts", {})
        verdicts = ", ".join(f"{counts[s]} {s}" for s in ("PASS", "INCONCLUSIVE", "FAIL", "ERROR") if s in counts)
        runs = self.config.registry.models[LLM_MODEL].runs
        self.say(f"  gate #{outcome.id}   {LLM_MODEL}:{number} against {against} on golden set support, {runs} "
                 f"trials a case and side, replayed: {'PASSED' if outcome.passed else 'FAILED'} ({verdicts})")
        for reason in outcome.reasons:
            self.say(f"            {'NO' if reason in outcome.failures else 'ok'}  {reason}")
        if not outcome.passed:
            self.result.parked[f"{LLM_MODEL}:{number}"] = self.registry.parked(LLM_MODEL, number) or ""
            self.say(f"  decide    PARKED: {_clip(self.result.parked[f'{LLM_MODEL}:{number}'], 110)}")
        return outcome

    def _finish(self) -> None:
        self.result.aliases = {m: self.registry.aliases(m) for m in (MODEL, LLM_MODEL)}
        self.flush_sinks()
        self.echo("")
        for name, aliases in self.result.aliases.items():
            self.echo(f"{name}: " + ", ".join(f"{a} -> {v}" for a, v in sorted(aliases.items())))
        notified = len(self.result.notifications.read_text(encoding="utf-8").splitlines())
        self.echo(f"notifications  {self.result.notifications} ({notified} lines)\nstore          {self.result.store}")


# --------------------------------------------------------------------------- helpers


def _write_rows(path: Path, data: list[dict[str, Any]]) -> None:
    """Labelled rows as the training command and the gate read them: the features and ``label``."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*FEATURES, "label"])
        writer.writerows([[r["features"][n] for n in FEATURES] + [r["label"]] for r in data])


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables for the training subprocess (the pipeline passes ``os.environ`` on)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    """``python`` in the retrain command is the interpreter running goldband."""
    with _environment(PATH=f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"):
        yield


def _minute(stamp: str) -> str:
    """``2026-03-04T23:50:12.000+00:00`` -> ``2026-03-04 23:50`` (UTC, as the store writes it)."""
    return stamp[:16].replace("T", " ")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
