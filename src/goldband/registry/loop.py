"""What follows an alias move in the closed loop: the monitors watch the new version, and people are told.

``promote`` and ``rollback`` move the alias (``Registry``), then switch the
monitors' reference to the serving version's training snapshot (when the model
is monitored and the version has one) and notify the configured alert sinks
(``alerts: sinks:`` in goldband.yaml: the terminal, a JSON Lines file, a
webhook a deploy job can listen to). The alias move is the commit point: a
reference or notification that fails afterwards is reported in the result and
never undoes it; running the command again is harmless.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from goldband.alerts.rules import AlertEvent, severity_at_least
from goldband.alerts.sinks import build_sinks
from goldband.config.project import ProjectConfig
from goldband.registry.registry import PRODUCTION, Registry
from goldband.store.registry import EventRow, VersionRow
from goldband.watch.reference import register_reference

__all__ = ["Moved", "notify", "promote", "rollback", "switch_reference"]

SEVERITY = {"promote": "info", "rollback": "warning", "park": "warning", "approve": "info", "promoted": "info",
            "parked": "warning", "failed": "warning", "waiting": "info"}


@dataclass
class Moved:
    """An alias move and what followed it."""

    event: EventRow
    reference: str | None = None  # what the monitors watch now, or why they were not switched
    notified: dict[str, str] = field(default_factory=dict)  # sink -> "ok" or its error


def promote(registry: Registry, config: ProjectConfig, name: str, number: str, *, alias: str = PRODUCTION,
            reason: str | None = None, evidence: dict[str, Any] | None = None, force: bool = False,
            expect: str | None = None, stream: IO[str] | None = None) -> Moved:
    """Promote, then (for production) switch the monitors' reference and notify."""
    event = registry.promote(name, number, alias=alias, reason=reason, evidence=evidence, force=force, expect=expect)
    return _follow(registry, config, event, stream)


def rollback(registry: Registry, config: ProjectConfig, name: str, *, to: str | None = None,
             alias: str = PRODUCTION, reason: str | None = None, evidence: dict[str, Any] | None = None,
             stream: IO[str] | None = None) -> Moved:
    """Roll back, then (for production) switch the monitors' reference and notify."""
    event = registry.rollback(name, to=to, alias=alias, reason=reason, evidence=evidence)
    return _follow(registry, config, event, stream)


def _follow(registry: Registry, config: ProjectConfig, event: EventRow, stream: IO[str] | None) -> Moved:
    moved = Moved(event)
    if event.alias == PRODUCTION and event.to_version:
        moved.reference = switch_reference(registry, config, registry.version(event.model, event.to_version))
    moved.notified = notify(registry, config, event, stream=stream)
    return moved


def switch_reference(registry: Registry, config: ProjectConfig, version: VersionRow) -> str | None:
    """Register the version's training snapshot as the monitors' reference for that version; what happened
    (None when the model is not monitored: nothing to switch)."""
    monitor = config.monitors.models.get(version.model)
    if monitor is None:
        return None
    path = (version.data or {}).get("path")
    if not path:
        return f"{version.ref} has no training-data snapshot: the monitors keep their reference"
    try:
        register_reference(registry.store, version.model, Path(path), version=version.version,
                           features=monitor.features, columns=monitor.columns, task=monitor.task, root=registry.root)
    except Exception as exc:  # the alias has moved: report the reference problem, never undo the move
        return f"the monitors' reference was not switched: {type(exc).__name__}: {exc}"
    return f"the monitors now compare {version.ref}'s predictions with {path}"


def notify(registry: Registry, config: ProjectConfig, event: EventRow, *,
           stream: IO[str] | None = None) -> dict[str, str]:
    """Tell the configured sinks about a registry event; a failing sink is reported, never raised."""
    alert = AlertEvent(id=event.id or 0, rule="registry", severity=SEVERITY.get(event.kind, "info"),
                       status="resolved", source="registry", model=event.model, metric=event.kind,
                       summary=_summary(event), opened_at=event.time, time=event.time,
                       details={"event": event.id, "kind": event.kind, "alias": event.alias,
                                "from_version": event.from_version, "to_version": event.to_version,
                                "actor": event.actor, "reason": event.reason, "evidence": dict(event.evidence),
                                "forced": event.forced})
    results: dict[str, str] = {}
    for sink in build_sinks(config.alerts.sinks, root=registry.root, stream=stream or sys.stderr):
        if not severity_at_least(alert.severity, sink.min_severity):
            continue
        try:
            sink.send(alert)
            results[sink.name] = "ok"
        except Exception as exc:  # callbacks never break the loop
            results[sink.name] = f"{type(exc).__name__}: {exc}"
    return results


def _summary(event: EventRow) -> str:
    if not event.alias:
        return event.reason or f"{event.kind} version {event.to_version}"
    forced = " (forced)" if event.forced else ""
    moved = f"{event.kind} {event.alias} {event.from_version or '-'} -> {event.to_version}{forced}"
    return moved + (f": {event.reason}" if event.reason else "")
