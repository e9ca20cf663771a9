"""The store's schema: named, transactional migrations (sqlite-utils ``Migrations``).

The schema version of a store is the number of goldband migrations applied
to it, also kept in ``PRAGMA user_version`` for tools that only read a header.
Applied migrations are recorded in ``_sqlite_migrations`` (set ``goldband``).

Adding a migration (for a new table, index or column)::

    @migration("0007_gate_notes")
    def _gate_notes(db: Database) -> None:
        db.table("gate_notes").create({"id": int, "gate_id": int, "note": str}, pk="id")

Append it at the end of this module: the order of definition is the order of
application. Never edit or rename a migration that has shipped: stores in the
field record it by name. Each migration runs inside the transaction that
``open_store`` holds while migrating, so a failing one leaves no trace; test a
new one from an empty store and from the store of the previous version
(``tests/store/test_schema.py`` does both for every migration). Add its PostgreSQL
twin, under the same name, to ``goldband.store.postgres.MIGRATIONS``
(``tests/store/test_pg_schema.py`` fails until both schemas match). Document the
new tables and columns in ``docs/store.md``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # sqlite-utils (and the numpy it imports) loads only to migrate: a run opens a current store
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

_STEPS: list[tuple[str, Callable[[Database], None]]] = []


def migration(name: str) -> Callable[[Callable[[Database], None]], Callable[[Database], None]]:
    """Register a migration under ``name`` (``NNNN_what``), after those already registered."""

    def inner(fn: Callable[[Database], None]) -> Callable[[Database], None]:
        _STEPS.append((name, fn))
        return fn

    return inner


def names() -> list[str]:
    """Every migration this goldband knows, in order; the last index + 1 is the schema version."""
    return [name for name, _ in _STEPS]


@functools.cache
def migrations() -> Migrations:
    """The sqlite-utils ``Migrations`` set ``goldband``: every registered migration, in order."""
    from sqlite_utils.migrations import Migrations

    found = Migrations("goldband")
    for name, fn in _STEPS:
        found(name=name)(fn)
    return found


def __getattr__(name: str) -> Any:
    """``MIGRATIONS``, built on first use (see ``migrations``)."""
    if name == "MIGRATIONS":
        return migrations()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


TEXT, INT, REAL = str, int, float


@migration("0001_initial")
def _initial(db: Database) -> None:
    _runs(db)
    _identities(db)
    _results(db)
    _series(db)
    db.create_view("run_summary", RUN_SUMMARY_SQL)


def _runs(db: Database) -> None:
    db.table("runs").create({
        "id": TEXT, "kind": TEXT, "status": TEXT, "started_at": TEXT, "updated_at": TEXT, "finished_at": TEXT,
        "git_sha": TEXT, "git_branch": TEXT, "git_dirty": INT, "goldband_version": TEXT, "command": TEXT,
        "root": TEXT, "host": TEXT, "pid": INT, "mode": TEXT, "sessions": INT, "exit_status": INT,
        "settings": TEXT,
    }, pk="id", not_null=["kind", "status", "started_at"])
    db.table("runs").create_index(["started_at"])
    db.table("runs").create_index(["kind", "started_at"])
    db.table("run_items").create({
        "run_id": TEXT, "goldenset": TEXT, "case_id": TEXT, "target": TEXT, "nodeid": TEXT, "min_runs": INT,
        "max_runs": INT,
    }, pk=("run_id", "goldenset", "case_id", "target"), foreign_keys=[("run_id", "runs", "id")])


def _identities(db: Database) -> None:
    """Content-hashed things a result was produced by; written once, linked per run."""
    db.table("goldensets").create({"hash": TEXT, "name": TEXT, "version": TEXT, "path": TEXT, "cases": INT,
                             "first_seen": TEXT}, pk="hash", not_null=["name", "version"])
    db.table("goldensets").create_index(["name", "version"])
    db.table("cases").create({
        "goldenset_hash": TEXT, "case_id": TEXT, "file": TEXT, "line": INT, "tags": TEXT, "input": TEXT,
        "reference": TEXT, "provenance": TEXT, "description": TEXT, "checks": TEXT, "runs": INT, "band": TEXT,
    }, pk=("goldenset_hash", "case_id"), foreign_keys=[("goldenset_hash", "goldensets", "hash")])
    db.table("prompts").create({"hash": TEXT, "text": TEXT}, pk="hash")
    db.table("targets").create({
        "hash": TEXT, "name": TEXT, "kind": TEXT, "model": TEXT, "callable": TEXT, "prompt_hash": TEXT,
        "system": TEXT, "messages": TEXT, "params": TEXT, "first_seen": TEXT,
    }, pk="hash", not_null=["name", "kind"], foreign_keys=[("prompt_hash", "prompts", "hash")])
    db.table("rubrics").create({"hash": TEXT, "name": TEXT, "version": TEXT, "body": TEXT, "first_seen": TEXT},
                         pk="hash")
    db.table("judges").create({"hash": TEXT, "model": TEXT, "params": TEXT, "first_seen": TEXT}, pk="hash")
    for table, column in (("goldensets", "goldenset_hash"), ("targets", "target_hash")):
        db.table(f"run_{table}").create({"run_id": TEXT, "name": TEXT, column: TEXT}, pk=("run_id", "name"),
                                  foreign_keys=[("run_id", "runs", "id"), (column, table, "hash")])
        db.table(f"run_{table}").create_index([column])
    db.table("run_rubrics").create({"run_id": TEXT, "rubric_hash": TEXT, "judge_hash": TEXT},
                             pk=("run_id", "rubric_hash", "judge_hash"),
                             foreign_keys=[("run_id", "runs", "id"), ("rubric_hash", "rubrics", "hash"),
                                           ("judge_hash", "judges", "hash")])


def _results(db: Database) -> None:
    db.table("trials").create({
        "id": INT, "run_id": TEXT, "goldenset": TEXT, "case_id": TEXT, "target": TEXT, "sample": INT,
        "outcome": TEXT, "score": REAL, "output": TEXT, "tool_calls": TEXT, "latency_ms": REAL,
        "prompt_tokens": INT, "completion_tokens": INT, "cost_usd": REAL, "system_fingerprint": TEXT,
        "finish_reason": TEXT, "error": TEXT, "error_kind": TEXT, "cached": INT, "attempts": INT,
        "created_at": TEXT,
    }, pk="id", not_null=["run_id", "goldenset", "case_id", "target", "sample", "outcome"],
        foreign_keys=[("run_id", "runs", "id")])
    db.table("trials").create_index(["run_id", "goldenset", "case_id", "target", "sample"], unique=True)
    db.table("scores").create({
        "trial_id": INT, "idx": INT, "check_name": TEXT, "kind": TEXT, "outcome": TEXT, "score": REAL,
        "detail": TEXT, "evidence": TEXT, "rubric_hash": TEXT, "gating": INT, "meta": TEXT,
    }, pk=("trial_id", "idx"), not_null=["check_name", "kind", "outcome"],
        foreign_keys=[("trial_id", "trials", "id")])
    db.table("verdicts").create({
        "run_id": TEXT, "goldenset": TEXT, "case_id": TEXT, "target": TEXT, "goldenset_hash": TEXT,
        "target_hash": TEXT, "nodeid": TEXT, "status": TEXT, "gating": INT, "n": INT, "passes": INT,
        "fails": INT, "errors": INT, "pass_rate": REAL, "pass_rate_low": REAL, "pass_rate_high": REAL,
        "confidence": REAL, "mean_score": REAL, "score_low": REAL, "score_high": REAL, "std": REAL,
        "bound": TEXT, "reason": TEXT, "runs_planned": INT, "baseline_outcome": TEXT, "baseline_run": TEXT,
        "baseline_delta": REAL, "baseline_p_adjusted": REAL, "details": TEXT, "created_at": TEXT,
    }, pk=("run_id", "goldenset", "case_id", "target"), not_null=["status", "n"],
        foreign_keys=[("run_id", "runs", "id")])
    # one case's history reads only this index (covering): no row lookups across a large table
    db.table("verdicts").create_index(["goldenset", "case_id", "target", "run_id", "status", "n", "passes", "pass_rate",
                                       "pass_rate_low", "pass_rate_high", "mean_score"],
                                      index_name="idx_verdicts_case_history")
    db.table("verdicts").create_index(["run_id", "status"])


def _series(db: Database) -> None:
    db.table("series_points").create({
        "id": INT, "source": TEXT, "model": TEXT, "metric": TEXT, "labels": TEXT, "labels_key": TEXT,
        "time": TEXT, "value": REAL, "run_id": TEXT,
    }, pk="id", not_null=["source", "model", "metric", "labels_key", "time"])
    db.table("series_points").create_index(["source", "model", "metric", "labels_key", "time"])
    db.table("series_points").create_index(["run_id"])
    db.table("drift_events").create({
        "id": INT, "detector": TEXT, "source": TEXT, "model": TEXT, "metric": TEXT, "labels": TEXT,
        "labels_key": TEXT, "time": TEXT, "statistic": REAL, "p_value": REAL, "threshold": REAL,
        "details": TEXT, "run_id": TEXT,
    }, pk="id", not_null=["detector", "source", "model", "metric", "labels_key", "time"])
    db.table("drift_events").create_index(["source", "model", "metric", "labels_key", "time"])


RUN_SUMMARY_SQL = """
SELECT r.id, r.kind, r.status, r.started_at, r.finished_at, r.git_branch, r.git_sha,
       COUNT(v.status) AS cases,
       SUM(v.status = 'PASS') AS pass, SUM(v.status = 'FAIL') AS fail,
       SUM(v.status = 'INCONCLUSIVE') AS inconclusive, SUM(v.status = 'ERROR') AS error,
       SUM(v.status = 'QUARANTINED') AS quarantined
FROM runs r LEFT JOIN verdicts v ON v.run_id = r.id
GROUP BY r.id
"""


@migration("0002_judge_cache")
def _judge_cache(db: Database) -> None:
    """A key-value cache for judge replies (key: rubric hash, judge config, input, output)."""
    db.table("judge_cache").create({"key": TEXT, "value": TEXT, "created_at": TEXT}, pk="key",
                             not_null=["value"])


@migration("0003_monitoring")
def _monitoring(db: Database) -> None:
    """Classic-ML monitoring (goldband.monitor) and alerts (goldband.alerts); see docs/store.md."""
    _monitor_log(db)
    _monitor_results(db)
    _alerts(db)


def _monitor_log(db: Database) -> None:
    db.table("monitor_references").create({
        "model": TEXT, "version": TEXT, "path": TEXT, "hash": TEXT, "format": TEXT, "spec": TEXT, "rows": INT,
        "created_at": TEXT,
    }, pk=("model", "version"), not_null=["hash", "spec"])
    db.table("monitor_predictions").create({
        "id": INT, "model": TEXT, "version": TEXT, "prediction_id": TEXT, "time": TEXT, "features": TEXT,
        "prediction": TEXT, "confidence": REAL, "proba": TEXT, "logged_at": TEXT,
    }, pk="id", not_null=["model", "version", "prediction_id", "time", "features"])
    db.table("monitor_predictions").create_index(["model", "prediction_id"], unique=True)
    db.table("monitor_predictions").create_index(["model", "version", "time", "id"])
    db.table("monitor_labels").create({
        "model": TEXT, "prediction_id": TEXT, "label": TEXT, "time": TEXT, "logged_at": TEXT, "updates": INT,
    }, pk=("model", "prediction_id"), not_null=["label", "time"])
    db.table("monitor_issues").create({
        "model": TEXT, "kind": TEXT, "field": TEXT, "count": INT, "first_at": TEXT, "last_at": TEXT, "example": TEXT,
    }, pk=("model", "kind", "field"), not_null=["count"])


def _monitor_results(db: Database) -> None:
    db.table("monitor_windows").create({
        "model": TEXT, "version": TEXT, "window": INT, "start_time": TEXT, "end_time": TEXT, "rows": INT,
        "first_id": INT, "last_id": INT, "input_drifted": INT, "output_drifted": INT, "drifted": TEXT,
        "results": TEXT, "checked_at": TEXT,
    }, pk=("model", "version", "window"), not_null=["rows", "input_drifted", "output_drifted"])
    db.table("monitor_state").create({"scope": TEXT, "key": TEXT, "state": TEXT, "updated_at": TEXT},
                                     pk=("scope", "key"), not_null=["state"])


def _alerts(db: Database) -> None:
    db.table("alerts").create({
        "id": INT, "fingerprint": TEXT, "rule": TEXT, "severity": TEXT, "status": TEXT, "source": TEXT,
        "model": TEXT, "metric": TEXT, "labels": TEXT, "detector": TEXT, "opened_at": TEXT, "last_seen_at": TEXT,
        "resolved_at": TEXT, "acked_at": TEXT, "acked_by": TEXT, "note": TEXT, "count": INT, "reopened": INT,
        "first_time": TEXT, "last_time": TEXT, "value": REAL, "summary": TEXT, "details": TEXT,
        "notify_pending": INT, "notified_at": TEXT, "deliveries": TEXT,
    }, pk="id", not_null=["fingerprint", "rule", "severity", "status", "opened_at"])
    db.table("alerts").create_index(["fingerprint", "id"])
    db.table("alerts").create_index(["status", "opened_at"])
    db.table("alert_state").create({
        "fingerprint": TEXT, "rule": TEXT, "streak": INT, "clean": INT, "last_notified_at": TEXT, "updated_at": TEXT,
    }, pk="fingerprint", not_null=["rule"])


@migration("0004_registry")
def _registry(db: Database) -> None:
    """The closed loop (goldband.registry): models, immutable versions, aliases and their append-only
    event log, gate results, artifact checks, retrain requests and their steps; see docs/store.md."""
    _registry_versions(db)
    _registry_events(db)
    _retrain(db)


def _registry_versions(db: Database) -> None:
    db.table("registry_models").create({
        "name": TEXT, "kind": TEXT, "description": TEXT, "created_at": TEXT, "created_by": TEXT,
    }, pk="name", not_null=["kind", "created_at"])
    db.table("registry_versions").create({
        "model": TEXT, "version": TEXT, "seq": INT, "artifact": TEXT, "artifact_kind": TEXT, "artifact_sha256": TEXT,
        "artifact_bytes": INT, "data": TEXT, "features": TEXT, "params": TEXT, "target": TEXT, "code_version": TEXT,
        "parent": TEXT, "description": TEXT, "created_at": TEXT, "created_by": TEXT,
    }, pk=("model", "version"), not_null=["seq", "artifact_kind", "created_at"],
        foreign_keys=[("model", "registry_models", "name")])
    db.table("registry_versions").create_index(["model", "seq"], unique=True)
    db.table("registry_artifact_checks").create({
        "path": TEXT, "size": INT, "mtime_ns": INT, "sha256": TEXT, "checked_at": TEXT,
    }, pk="path", not_null=["size", "mtime_ns", "sha256"])


def _registry_events(db: Database) -> None:
    db.table("registry_events").create({
        "id": INT, "model": TEXT, "kind": TEXT, "alias": TEXT, "from_version": TEXT, "to_version": TEXT,
        "time": TEXT, "actor": TEXT, "reason": TEXT, "evidence": TEXT, "forced": INT,
    }, pk="id", not_null=["model", "kind", "time"], foreign_keys=[("model", "registry_models", "name")])
    db.table("registry_events").create_index(["model", "id"])
    db.table("registry_events").create_index(["model", "alias", "time"])
    db.table("registry_aliases").create({
        "model": TEXT, "alias": TEXT, "version": TEXT, "event_id": INT, "updated_at": TEXT,
    }, pk=("model", "alias"), not_null=["version", "event_id"], foreign_keys=[("event_id", "registry_events", "id")])
    db.table("registry_gates").create({
        "id": INT, "model": TEXT, "candidate": TEXT, "champion": TEXT, "kind": TEXT, "status": TEXT,
        "decision": TEXT, "policy": TEXT, "reasons": TEXT, "metrics": TEXT, "eval_set": TEXT, "details": TEXT,
        "started_at": TEXT, "finished_at": TEXT, "actor": TEXT,
    }, pk="id", not_null=["model", "candidate", "kind", "status", "started_at"])
    db.table("registry_gates").create_index(["model", "candidate", "id"])


def _retrain(db: Database) -> None:
    db.table("retrain_requests").create({
        "id": INT, "model": TEXT, "trigger": TEXT, "alert_id": INT, "reason": TEXT, "status": TEXT,
        "candidate": TEXT, "gate_id": INT, "data_since": TEXT, "created_at": TEXT, "updated_at": TEXT,
        "actor": TEXT, "owner": TEXT,
    }, pk="id", not_null=["model", "trigger", "status", "created_at"])
    db.table("retrain_requests").create_index(["alert_id"], unique=True)
    db.table("retrain_requests").create_index(["model", "status", "id"])
    db.table("retrain_steps").create({
        "request_id": INT, "step": TEXT, "status": TEXT, "started_at": TEXT, "finished_at": TEXT, "log": TEXT,
        "detail": TEXT, "attempts": INT,
    }, pk=("request_id", "step"), not_null=["status", "started_at"],
        foreign_keys=[("request_id", "retrain_requests", "id")])


@migration("0005_rendered_messages")
def _rendered_messages(db: Database) -> None:
    """What each trial sent: the rendered chat messages (and tool definitions), stored once per distinct
    rendering under its content hash, and referenced from each trial (NULL for older trials and for
    callable targets, which are sent no messages); see docs/store.md."""
    db.table("rendered_messages").create({"hash": TEXT, "messages": TEXT, "tools": TEXT, "first_seen": TEXT},
                                         pk="hash", not_null=["messages"])
    db.table("trials").add_column("messages_hash", TEXT)


@migration("0006_run_problems")
def _run_problems(db: Database) -> None:
    """Why a run is incomplete when goldband itself failed it: writes the store lost, series points or
    reports not written (a JSON list of sentences; NULL when nothing failed); see docs/store.md."""
    db.table("runs").add_column("problems", TEXT)


@migration("0007_compact_features")
def _compact_features(db: Database) -> None:
    """Logged features as a JSON array of values under a shared layout (the feature names, stored once)
    instead of a JSON object repeating every name on every prediction; rows written before keep their
    object (``layout`` NULL) and read back the same; see docs/store.md."""
    db.table("monitor_layouts").create({"id": INT, "names": TEXT, "created_at": TEXT}, pk="id", not_null=["names"])
    db.table("monitor_layouts").create_index(["names"], unique=True)
    db.table("monitor_predictions").add_column("layout", INT)


@migration("0008_llm_traces")
def _llm_traces(db: Database) -> None:
    """An LLM application's production calls (``llm_traces``, one row per call, keyed by app, trace id and
    span id so a file ingested twice is stored once), the feedback they get later (``llm_feedback``) and
    what ``goldband monitor evaluate`` found in each (``llm_evaluations``); see docs/store.md."""
    db.table("llm_traces").create({
        "id": INT, "app": TEXT, "trace_id": TEXT, "span_id": TEXT, "version": TEXT, "time": TEXT, "input": TEXT,
        "output": TEXT, "tool_calls": TEXT, "latency_ms": REAL, "input_tokens": INT, "output_tokens": INT,
        "cost": REAL, "model": TEXT, "finish_reason": TEXT, "error": TEXT, "attributes": TEXT, "source": TEXT,
        "logged_at": TEXT,
    }, pk="id", not_null=["app", "trace_id", "span_id", "version", "time", "input"])
    db.table("llm_traces").create_index(["app", "trace_id", "span_id"], unique=True)
    db.table("llm_traces").create_index(["app", "version", "time", "id"])  # a version's windows, in order
    db.table("llm_traces").create_index(["app", "time", "id"])  # an app's traces newest first (candidates)
    db.table("llm_feedback").create({
        "id": INT, "app": TEXT, "trace_id": TEXT, "kind": TEXT, "value": TEXT, "score": INT, "by": TEXT,
        "time": TEXT, "key": TEXT, "logged_at": TEXT,
    }, pk="id", not_null=["app", "trace_id", "kind", "time"])
    db.table("llm_feedback").create_index(["app", "trace_id"])
    db.table("llm_feedback").create_index(["key"], unique=True)  # a feedback file ingested twice: stored once
    db.table("llm_evaluations").create({
        "trace": INT, "app": TEXT, "version": TEXT, "window": INT, "checks_passed": INT, "checks_failed": INT,
        "failed": TEXT, "judge_score": REAL, "judge_error": TEXT, "refusal": INT, "empty": INT, "truncated": INT,
        "evaluated_at": TEXT,
    }, pk="trace", not_null=["app", "version"])
    db.table("llm_evaluations").create_index(["app", "version", "window"])


@migration("0009_draft_runs")
def _draft_runs(db: Database) -> None:
    """Draft runs: ``runs.draft`` is 1 when a golden set of the run changed under a version its lock recorded
    with another hash and ran anyway (draft mode, ``goldband.golden.lock``), and ``run_goldensets.draft`` names
    which. A draft run is never a baseline, never in a case's history and writes no series points; older
    runs read as not draft (NULL); see docs/store.md."""
    db.table("runs").add_column("draft", INT)
    db.table("run_goldensets").add_column("draft", INT)


@migration("0010_trial_turns")
def _trial_turns(db: Database) -> None:
    """Conversation cases (``turns:``, ``goldband.engine.conversation``): one row per turn of a trial, with
    what that turn sent (``rendered_messages``: the earlier turns and the model's own replies included) and
    its reply. The trial row keeps the final reply and the conversation's totals; see docs/store.md."""
    db.table("trial_turns").create({
        "trial_id": INT, "turn": INT, "messages_hash": TEXT, "output": TEXT, "tool_calls": TEXT,
        "latency_ms": REAL, "prompt_tokens": INT, "completion_tokens": INT, "cost_usd": REAL,
        "system_fingerprint": TEXT, "finish_reason": TEXT, "error": TEXT, "error_kind": TEXT, "cached": INT,
        "attempts": INT,
    }, pk=("trial_id", "turn"), not_null=["turn"], foreign_keys=[("trial_id", "trials", "id")])


@migration("0011_run_shards")
def _run_shards(db: Database) -> None:
    """Sharded CI runs (``--goldband-shard i/K``, ``goldband.session.shards``): one row per shard of a run that
    K jobs record together, with how many items it selected, its exit status and when it finished (NULL while
    it runs). The shard that finishes while every other has finished finalizes the run; see docs/store.md."""
    db.table("run_shards").create({
        "run_id": TEXT, "shard": INT, "shards": INT, "items": INT, "exit_status": INT, "started_at": TEXT,
        "finished_at": TEXT,
    }, pk=("run_id", "shard"), not_null=["shards", "items"], foreign_keys=[("run_id", "runs", "id")])


@migration("0012_environments")
def _environments(db: Database) -> None:
    """Environments (``staging``, ``production``, a region; ``goldband._util.environment``): the environment a
    run ran in, and that its series points belong to. NULL is the default environment, so rows written before
    read as ``default`` and a user who never names one writes what was written before; see docs/store.md."""
    for table in ("runs", "series_points"):
        db.table(table).add_column("environment", TEXT)
    db.table("runs").create_index(["environment", "started_at"])  # goldband history --environment E


@migration("0013_environment_everywhere")
def _environment_everywhere(db: Database) -> None:
    """The environment (``goldband._util.environment``; NULL: the default) on the rest of what belongs to one:
    logged predictions and LLM traces (the logger's or ingest's ``environment``), alerts (their series'
    ``environment`` label, so staging's and production's incidents are two alerts) and registry events (the
    environment the move was made from); see docs/store.md."""
    for table in ("monitor_predictions", "llm_traces", "alerts", "registry_events"):
        db.table(table).add_column("environment", TEXT)
    db.table("monitor_predictions").create_index(["model", "environment", "version", "time", "id"])  # --environment
    db.table("alerts").create_index(["environment", "status", "opened_at"])  # goldband alerts list --environment


@migration("0014_monitor_environments")
def _monitor_environments(db: Database) -> None:
    """A checked window belongs to one environment's predictions, so staging's and production's windows of one
    model version are two sequences: ``environment`` joins the key of ``monitor_windows``. A key column cannot be
    NULL, so the default environment is '' here (NULL in ``monitor_predictions``); windows written before are
    the default environment's; see docs/store.md."""
    db.table("monitor_windows").add_column("environment", TEXT, not_null_default="")
    db.table("monitor_windows").transform(pk=("model", "environment", "version", "window"))
