"""The retrain pipeline: one defined, recorded sequence from a retrain request to a serving (or parked) model.

::

    train ─ register ─ gate ─ decide ─ reference ─ notify

- **train**: the model's ``retrain.command`` (or ``callable``) in a real
  subprocess, its output kept in ``retrain/ID/train.log`` in the registry's
  home (``Registry.home``: beside an SQLite store, else the project's
  ``.goldband/``), killed after ``timeout``; it must write the artifact into ``{artifact_dir}``
  (and may write its training-data snapshot to ``{data_path}``).
- **register**: the artifact and data become a new immutable version.
- **gate**: the candidate against the version serving now (``goldband.registry.gate``).
- **decide**: passed and ``approval: auto`` -> promote; ``manual`` -> wait for
  ``goldband retrain approve ID``; failed -> park, with the gate's reasons.
- **reference**: a promoted version's training snapshot becomes the monitors' reference.
- **notify**: the alert sinks hear what happened (a deploy job can listen on a webhook).

Every step is a row in ``retrain_steps`` (status, times, log, what it produced).
A pipeline killed half way resumes at the first step that is not done: a
version registered before the kill is found again (no duplicate), a gate that
did not complete is run again, and nothing is promoted without a completed,
passing gate of this very candidate. One pipeline runs per model at a time
(the request's ``owner``, claimed under the model's retrain lock, so of two
processes claiming at once on PostgreSQL too the second sees the first); a dead
owner's request is resumed by the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from goldband.clock import iso, parse_duration
from goldband.config.project import ProjectConfig
from goldband.config.registry import RegistryModelConfig, RetrainConfig
from goldband.errors import ConfigError, GoldbandError, RegistryError
from goldband.registry import loop
from goldband.registry.candidates import register_candidate
from goldband.registry.gate import park_reason, run_gate
from goldband.registry.registry import PRODUCTION, Registry
from goldband.store import registry as db
from goldband.store.locks import serialize
from goldband.store.models import process_alive
from goldband.store.registry import EventRow, RetrainRequest, StepRow
from goldband.watch.db import latest_labelled

__all__ = ["STEPS", "approve", "cancel", "check_idle", "run_request", "running_elsewhere"]

STEPS = ("train", "register", "gate", "decide", "reference", "notify")
FINAL = ("promoted", "parked", "failed", "cancelled", "skipped")


@dataclass
class Context:
    """One request's pipeline: the registry, the project config, the model's config, where it works."""

    registry: Registry
    config: ProjectConfig
    model: RegistryModelConfig
    request: RetrainRequest
    workspace: Path
    mode: str | None
    stream: IO[str] | None

    @property
    def retrain(self) -> RetrainConfig:
        assert self.model.retrain is not None
        return self.model.retrain

    def refresh(self) -> None:
        found = db.request(self.registry.store.conn, self.request.id or 0)
        assert found is not None
        self.request = found

    def update(self, **changes: Any) -> None:
        with self.registry.store.transaction() as conn:
            db.update_request(conn, self.request.id or 0, updated_at=self._now(), **changes)
        self.refresh()

    def _now(self) -> str:
        return iso(self.registry.clock.now())


def run_request(registry: Registry, config: ProjectConfig, request_id: int, *, mode: str | None = None,
                stream: IO[str] | None = None) -> RetrainRequest:
    """Run (or resume) one request's pipeline to its end, or to a wait for approval; its final state."""
    ctx = _context(registry, config, request_id, mode, stream)
    _claim(ctx)
    try:
        for step in STEPS:
            if not _run_step(ctx, step):
                break
    finally:
        if ctx.request.status == "running":
            ctx.update(status="queued", owner=None)  # an unexpected stop: the next run resumes it
        elif ctx.request.owner is not None:
            ctx.update(owner=None)
    return ctx.request


def _context(registry: Registry, config: ProjectConfig, request_id: int, mode: str | None,
             stream: IO[str] | None) -> Context:
    request = db.request(registry.store.conn, request_id)
    if request is None:
        raise RegistryError(f"no retrain request #{request_id}", where="goldband retrain",
                            fix="goldband retrain status lists them")
    model = config.registry.models.get(request.model)
    if model is None or model.retrain is None:
        raise ConfigError(f"model '{request.model}' has no retrain configured", where="goldband.yaml (registry)",
                          expected=f"registry: models: {request.model}: retrain: {{on: ..., command: ...}}")
    workspace = registry.home.resolve() / "retrain" / str(request_id)
    return Context(registry, config, model, request, workspace, mode, stream)


def _claim(ctx: Context) -> None:
    """Own the request; refuse while another live process runs a pipeline for the same model."""
    with ctx.registry.store.transaction() as conn:
        serialize(conn, "retrain", ctx.request.model)  # of two processes claiming, the second sees the first's
        request = db.request(conn, ctx.request.id or 0)
        assert request is not None
        if request.status not in ("queued", "running"):
            return
        other = _running_elsewhere(conn, request.model)
        if other is not None:
            raise _busy(other)
        db.update_request(conn, request.id or 0, status="running", owner=_me(), updated_at=ctx._now())
    ctx.refresh()


def running_elsewhere(registry: Registry, model: str) -> RetrainRequest | None:
    """The request of ``model`` whose pipeline another live process runs now, if any (one per model)."""
    return _running_elsewhere(registry.store.conn, model)


def check_idle(registry: Registry, model: str) -> None:
    """RegistryError when another live process runs a pipeline of ``model``: check before changing anything."""
    other = running_elsewhere(registry, model)
    if other is not None:
        raise _busy(other)


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _running_elsewhere(conn: sqlite3.Connection, model: str) -> RetrainRequest | None:
    me = _me()
    found = [r for r in db.requests(conn, model, statuses=("running",))
             if r.owner and r.owner != me and _alive(r.owner)]
    return found[0] if found else None


def _busy(other: RetrainRequest) -> RegistryError:
    return RegistryError(f"a retrain of model '{other.model}' is running (request #{other.id}, {other.owner})",
                         where="goldband retrain", fix="wait for it; a killed one is resumed by the next run")


def _alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    return process_alive(host, int(pid)) if pid.isdigit() else False


def _run_step(ctx: Context, step: str) -> bool:
    """Run one step unless it is done; False when the pipeline stops here (waiting, failed, finished)."""
    if ctx.request.status != "running":
        return False
    done = {s.step: s for s in db.steps(ctx.registry.store.conn, ctx.request.id or 0)}
    if step in done and done[step].status in ("done", "skipped"):
        return True
    attempts = done[step].attempts + 1 if step in done else 1
    started = ctx._now()
    _record(ctx, StepRow(ctx.request.id or 0, step, "running", started, attempts=attempts))
    try:
        status, detail, log = STEP_FUNCTIONS[step](ctx)
    except GoldbandError as exc:
        _record(ctx, StepRow(ctx.request.id or 0, step, "failed", started, ctx._now(), _log_of(ctx, step),
                             {"error": str(exc)}, attempts))
        ctx.update(status="failed", reason=_append(ctx.request.reason, f"{step} failed: {exc}"))
        _notify(ctx, "failed", f"retrain #{ctx.request.id} failed at {step}: {exc}")
        return False
    _record(ctx, StepRow(ctx.request.id or 0, step, status, started, ctx._now(), log, detail, attempts))
    return ctx.request.status == "running"


def _log_of(ctx: Context, step: str) -> str | None:
    """The step's log file, when it wrote one (a failed training's output is where to look first)."""
    log = ctx.workspace / "train.log"
    return str(log) if step == "train" and log.exists() else None


def _record(ctx: Context, row: StepRow) -> None:
    with ctx.registry.store.transaction() as conn:
        db.put_step(conn, row)


def _append(reason: str | None, more: str) -> str:
    return f"{reason}; {more}" if reason else more


# --------------------------------------------------------------------------- the steps

StepResult = tuple[str, dict[str, Any], "str | None"]  # status, detail, log path


def _train(ctx: Context) -> StepResult:
    _end_leftover(ctx.workspace / "train.pid")  # a killed pipeline's training must not write into this attempt
    artifact, data, log = _fresh_workspace(ctx.workspace)
    values = {"artifact_dir": str(artifact), "data_path": str(data), "data_since": ctx.request.data_since or "",
              "fresh_since": _fresh_since(ctx), "model": ctx.request.model, "request": str(ctx.request.id),
              "root": str(ctx.registry.root), "python": sys.executable}
    started = time.monotonic()
    code = _execute(_command(ctx.retrain, values), log, ctx.registry.root, parse_duration(ctx.retrain.timeout),
                    values, ctx.workspace / "train.pid")
    files = sorted(p.relative_to(artifact).as_posix() for p in artifact.rglob("*") if p.is_file())
    detail = {"exit_code": code, "seconds": round(time.monotonic() - started, 3), "artifact_files": files[:20]}
    if code != 0:
        raise RegistryError(f"training exited with status {code}", where=str(log),
                            fix="read the training log, fix the command, then goldband retrain run")
    if not files:
        raise RegistryError("training wrote no artifact", where=str(artifact),
                            expected="the trained model written into {artifact_dir}", fix="check the command")
    return "done", detail, str(log)


def _fresh_since(ctx: Context) -> str:
    """The time of the oldest production prediction the gate will judge on (its ``fresh`` rows): training data
    from that time on would be judged on itself. Empty when the gate takes no fresh rows."""
    fresh = ctx.model.eval.fresh if ctx.model.eval else 0
    if not fresh:
        return ""
    rows = latest_labelled(ctx.registry.store.conn, ctx.request.model, fresh)
    return str(rows[0][0]) if rows else ""


def _fresh_workspace(workspace: Path) -> tuple[Path, Path, Path]:
    """An empty artifact folder (a resumed training starts over), the data path and the log."""
    artifact = workspace / "artifact"
    shutil.rmtree(artifact, ignore_errors=True)
    artifact.mkdir(parents=True)
    data = workspace / "data.csv"
    data.unlink(missing_ok=True)
    return artifact, data, workspace / "train.log"


def _command(config: RetrainConfig, values: dict[str, str]) -> list[str] | str:
    if config.command is not None:
        try:
            return config.command.format(**{k: shlex.quote(v) for k, v in values.items()})
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"the retrain command names an unknown placeholder: {exc}",
                              where="goldband.yaml (retrain.command)",
                              expected="placeholders among {python} {artifact_dir} {data_path} {data_since} "
                                       "{fresh_since} {model} {request} {root}") from None
    return [sys.executable, "-c", _CALLABLE, config.callable_ or "", json.dumps(values)]


# A callable gets the placeholders its signature names (all of them with **kwargs), in its own process.
_CALLABLE = ("import inspect, json, sys, pathlib; from goldband._util.imports import import_callable; "
             "v = json.loads(sys.argv[2]); f = import_callable(sys.argv[1], pathlib.Path(v['root'])); "
             "p = inspect.signature(f).parameters; "
             "every = any(x.kind is inspect.Parameter.VAR_KEYWORD for x in p.values()); "
             "f(**{k: x for k, x in v.items() if every or k in p})")


def _execute(command: list[str] | str, log: Path, cwd: Path, timeout_s: float, values: dict[str, str],
             pidfile: Path) -> int:
    """Run the training in its own process group, output to ``log``; kill the group at the timeout, or when
    the pipeline is interrupted. ``pidfile`` names the group while it runs: if this process is killed, the
    next attempt ends the training it leaves behind (``_end_leftover``)."""
    env = {**os.environ, **{f"GOLDBAND_{k.upper()}": v for k, v in values.items()}}
    with log.open("ab") as out:
        proc = subprocess.Popen(command, shell=isinstance(command, str), cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env)
        pidfile.write_text(f"{socket.gethostname()} {proc.pid} {_started(proc.pid) or '-'}\n", encoding="utf-8")
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise RegistryError(f"training ran past its timeout ({timeout_s:g} s) and was killed", where=str(log),
                                fix="raise retrain.timeout, or make the training faster") from None
        except BaseException:  # interrupted: the training never outlives the pipeline that started it
            _kill_group(proc)
            raise
        finally:
            pidfile.unlink(missing_ok=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None when it is gone, a zombie,
    or this system has no /proc: with its pid it identifies a process for sure (pids are reused)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def _end_leftover(pidfile: Path) -> None:
    """End the training that a killed pipeline left running (its whole process group), and wait for it.

    Only a process this host identifies as that very training (same pid and start time) is killed; where
    there is no /proc to tell, it is left alone."""
    try:
        host, pid, started = pidfile.read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return
    if host == socket.gethostname() and pid.isdigit() and started != "-" and _started(int(pid)) == started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pid), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _started(int(pid)) == started and time.monotonic() < deadline:
            time.sleep(0.02)
    pidfile.unlink(missing_ok=True)


def _register(ctx: Context) -> StepResult:
    version = register_candidate(ctx.registry, ctx.model, ctx.request, ctx.workspace)
    ctx.update(candidate=version.version)
    return "done", {"version": version.version, "artifact_sha256": version.artifact_sha256}, None


def _gate(ctx: Context) -> StepResult:
    previous = db.gate(ctx.registry.store.conn, ctx.request.gate_id) if ctx.request.gate_id else None
    if previous is not None and previous.status == "complete" and previous.candidate == ctx.request.candidate:
        return "done", {"gate": previous.id, "decision": previous.decision}, None
    assert ctx.request.candidate is not None
    _close_interrupted_gates(ctx)
    outcome = run_gate(ctx.registry, ctx.config, ctx.request.model, ctx.request.candidate, mode=ctx.mode,
                       park=False)
    ctx.update(gate_id=outcome.id)
    return "done", {"gate": outcome.id, "decision": "pass" if outcome.passed else "fail",
                    "champion": outcome.champion, "reasons": list(outcome.reasons)}, None


def _close_interrupted_gates(ctx: Context) -> None:
    """A gate of this candidate still 'running' was killed with its pipeline (one pipeline per model runs):
    record it failed, so it never reads as undecided."""
    stale = [g for g in db.gates(ctx.registry.store.conn, ctx.request.model, ctx.request.candidate)
             if g.status == "running" and g.id is not None]
    if stale:
        with ctx.registry.store.transaction() as conn:
            for g in stale:
                db.finish_gate(conn, g.id or 0, replace(g, status="failed", finished_at=ctx._now(),
                                                        reasons=["interrupted: its process was killed"]))


def _decide(ctx: Context) -> StepResult:
    gate = db.gate(ctx.registry.store.conn, ctx.request.gate_id or 0)
    name, candidate = ctx.request.model, ctx.request.candidate or ""
    if gate is None or gate.status != "complete" or gate.candidate != candidate:
        raise RegistryError(f"no completed gate for {name}:{candidate}", where=f"retrain #{ctx.request.id}",
                            fix="goldband retrain run resumes it and gates the candidate again")
    if gate.decision != "pass":
        return _park(ctx, gate.details.get("failures") or gate.reasons)
    if ctx.registry.aliases(name).get(PRODUCTION) == candidate:  # promoted before a kill
        return "done", {"outcome": "promoted", "version": candidate}, None
    if ctx.retrain.approval == "manual" and not _approved(ctx):
        ctx.update(status="waiting")
        _notify(ctx, "waiting", f"{name}:{candidate} passed gate #{gate.id} and waits for approval: "
                                f"goldband retrain approve {ctx.request.id}")
        return "waiting", {"waiting": "approval"}, None
    event = ctx.registry.promote(name, candidate, reason=f"retrain #{ctx.request.id} passed gate #{gate.id}",
                                 evidence=_evidence(ctx, gate.id), expect=gate.champion)
    return "done", {"outcome": "promoted", "version": candidate, "event": event.id, "from": event.from_version}, None


def _park(ctx: Context, failures: list[str]) -> StepResult:
    name, candidate = ctx.request.model, ctx.request.candidate or ""
    if ctx.registry.parked(name, candidate) is None:
        ctx.registry.park(name, candidate, reason=park_reason(failures), evidence=_evidence(ctx, ctx.request.gate_id))
    return "done", {"outcome": "parked", "version": candidate}, None


def _evidence(ctx: Context, gate_id: int | None) -> dict[str, Any]:
    found = {"gate": gate_id, "retrain_request": ctx.request.id, "alert": ctx.request.alert_id}
    return {k: v for k, v in found.items() if v is not None}


def _approved(ctx: Context) -> bool:
    approvals = db.events(ctx.registry.store.conn, ctx.request.model, version=ctx.request.candidate,
                          kinds=("approve",))
    return any(e.evidence.get("retrain_request") == ctx.request.id for e in approvals)


def _outcome(ctx: Context) -> str:
    """What the decide step ended with: promoted or parked."""
    decided = {s.step: s for s in db.steps(ctx.registry.store.conn, ctx.request.id or 0)}.get("decide")
    return str(decided.detail.get("outcome", "")) if decided is not None else ""


def _reference(ctx: Context) -> StepResult:
    outcome = _outcome(ctx)
    if outcome != "promoted":
        return "skipped", {"why": f"the candidate was {outcome or 'not decided'}"}, None
    version = ctx.registry.version(ctx.request.model, ctx.request.candidate or "")
    note = loop.switch_reference(ctx.registry, ctx.config, version)
    return "done", {"reference": note}, None


def _notify_step(ctx: Context) -> StepResult:
    status = _outcome(ctx)
    text = {"promoted": f"{ctx.request.model}:{ctx.request.candidate} now serves (retrain #{ctx.request.id})",
            "parked": f"{ctx.request.model}:{ctx.request.candidate} was parked by its gate "
                      f"(retrain #{ctx.request.id})"}.get(status, f"retrain #{ctx.request.id}: {status}")
    notified = _notify(ctx, status, text)
    ctx.update(status=status)  # the last step: the request ends promoted or parked
    return "done", {"notified": notified}, None


def _notify(ctx: Context, kind: str, summary: str) -> dict[str, str]:
    event = EventRow(ctx.request.model, kind, ctx._now(), from_version=_replaced(ctx),
                     to_version=ctx.request.candidate, actor=ctx.registry.actor, reason=summary,
                     evidence=_evidence(ctx, ctx.request.gate_id))
    return loop.notify(ctx.registry, ctx.config, event, stream=ctx.stream)


def _replaced(ctx: Context) -> str | None:
    """The version the candidate was to replace: its gate's champion, else the one serving now."""
    conn, name = ctx.registry.store.conn, ctx.request.model
    gate = db.gate(conn, ctx.request.gate_id) if ctx.request.gate_id else None
    return gate.champion if gate is not None else db.aliases(conn, name).get((name, PRODUCTION))


STEP_FUNCTIONS: dict[str, Callable[[Context], StepResult]] = {
    "train": _train, "register": _register, "gate": _gate, "decide": _decide, "reference": _reference,
    "notify": _notify_step,
}


# --------------------------------------------------------------------------- approval and cancel


def approve(registry: Registry, config: ProjectConfig, request_id: int, *, reason: str | None = None,
            mode: str | None = None, stream: IO[str] | None = None) -> RetrainRequest:
    """Approve a request waiting after its gate passed, and finish its pipeline (promote, reference, notify)."""
    request = db.request(registry.store.conn, request_id)
    if request is None or request.status != "waiting" or request.candidate is None:
        state = request.status if request else "missing"
        raise RegistryError(f"retrain request #{request_id} is not waiting for approval ({state})",
                            where="goldband retrain approve", fix="goldband retrain status shows what waits")
    check_idle(registry, request.model)  # the pipeline it finishes would be refused: approve nothing yet
    registry.approve(request.model, request.candidate, reason=reason,
                     evidence={"retrain_request": request_id, "gate": request.gate_id})
    with registry.store.transaction() as conn:
        db.update_request(conn, request_id, status="running", updated_at=iso(registry.clock.now()))
    return run_request(registry, config, request_id, mode=mode, stream=stream)


def cancel(registry: Registry, request_id: int, *, reason: str | None = None) -> RetrainRequest:
    """Cancel a request that is queued, waiting, or whose pipeline died; a live pipeline is refused."""
    request = db.request(registry.store.conn, request_id)
    if request is None or request.status in FINAL:
        state = request.status if request else "missing"
        raise RegistryError(f"retrain request #{request_id} cannot be cancelled ({state})",
                            where="goldband retrain cancel")
    if request.status == "running" and request.owner and _alive(request.owner):
        raise RegistryError(f"retrain request #{request_id} is running ({request.owner})",
                            where="goldband retrain cancel", fix="stop that process first")
    with registry.store.transaction() as conn:
        db.update_request(conn, request_id, status="cancelled", owner=None, updated_at=iso(registry.clock.now()),
                          reason=_append(request.reason, f"cancelled: {reason or 'by hand'}"))
    found = db.request(registry.store.conn, request_id)
    assert found is not None
    return found
