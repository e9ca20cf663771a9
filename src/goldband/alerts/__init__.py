"""Alerts: rules over the monitors' observations, one alert per incident, sinks that cannot break a run.

::

    from goldband.alerts import AlertEngine, Observation
    from goldband.store import open_store

    with open_store(".goldband/store.db") as store:
        engine = AlertEngine(store)                      # rules and sinks: alerts: in goldband.yaml
        engine.process([Observation("classic-ml", "churn", "error_rate", "2026-05-01T00:00:00+00:00",
                                    value=0.31, flagged=True, summary="error rate 0.31")])

The rules and sinks are configured in ``goldband.yaml`` (``goldband.config.alerts``);
``goldband alerts list | ack`` reads and acknowledges the stored alerts. Importing
this package is cheap: the parts load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from goldband._util.lazy import lazy_exports

if TYPE_CHECKING:
    from goldband.alerts.engine import AlertEngine, Delivered, ack, list_alerts
    from goldband.alerts.rules import AlertEvent, Observation
    from goldband.alerts.sinks import SINKS, JsonlSink, LogSink, Sink, WebhookSink
    from goldband.config.alerts import DEFAULT_RULES, AlertsConfig, RuleConfig
    from goldband.errors import SinkError

__all__ = [
    "DEFAULT_RULES",
    "SINKS",
    "AlertEngine",
    "AlertEvent",
    "AlertsConfig",
    "Delivered",
    "JsonlSink",
    "LogSink",
    "Observation",
    "RuleConfig",
    "Sink",
    "SinkError",
    "WebhookSink",
    "ack",
    "list_alerts",
]

_WHERE = {
    "DEFAULT_RULES": "goldband.config.alerts", "AlertsConfig": "goldband.config.alerts",
    "RuleConfig": "goldband.config.alerts",
    "AlertEngine": "engine", "Delivered": "engine", "ack": "engine", "list_alerts": "engine",
    "AlertEvent": "rules", "Observation": "rules",
    "SINKS": "sinks", "JsonlSink": "sinks", "LogSink": "sinks", "Sink": "sinks", "SinkError": "sinks",
    "WebhookSink": "sinks",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals(), __all__)
