"""Batch ingestion of LLM traces and feedback from files (``goldband monitor traces`` / ``monitor feedback``).

Trace files are goldband's JSON Lines form or OpenTelemetry OTLP JSON
(``goldband.watch.tracefiles`` reads both). Each record goes through the app's
redaction hook before anything is stored; a record that cannot be read, or
whose hook raises, is refused and reported with its ``file:line``, and the
rest of the file is stored, in batches of one transaction each. A trace is
keyed by (app, trace id, span id), so ingesting the same file twice stores it
once; after an interrupted ingestion, run the same command again.

A feedback file is JSON Lines, one object per line: ``trace_id`` and at least
one of ``thumbs`` (up/down), ``comment``, ``correction``, ``label``, with
optional ``by`` and ``time``. Feedback on a trace id the app does not have is
refused with its line (a typo must not vanish). Each row is keyed by the
file's hash and its line, so a feedback file ingested twice is stored once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goldband.clock import Clock, SystemClock, iso
from goldband.errors import ConfigError, MonitorError, RowRefused, StoreError
from goldband.watch import traces
from goldband.watch.ingest import SHOWN, IngestReport
from goldband.watch.records import to_time
from goldband.watch.tables import file_hash, read_rows
from goldband.watch.tracefiles import read_traces
from goldband.watch.tracelog import Redactor, apply_redaction, feedback_rows, with_version
from goldband.watch.tracerecords import TraceRecord

if TYPE_CHECKING:
    from goldband.store import Store

__all__ = ["ingest_feedback", "ingest_traces"]

BATCH = 2000
FEEDBACK_KEYS = ("trace_id", "thumbs", "comment", "correction", "label", "by", "time")


def ingest_traces(store: Store, app: str, path: str | Path, *, version: str = "1", redact: Redactor | None = None,
                  clock: Clock | None = None, environment: str | None = None) -> IngestReport:
    """Store every trace in the file (see the module docstring for what is refused); ``environment``: where
    the calls were served, as stored (checked by the caller; None: the default)."""
    path = Path(path)
    report = IngestReport(str(path), "traces")
    stamp = iso((clock or SystemClock()).now())
    batch: list[TraceRecord] = []
    for line, found in read_traces(path, app=app):
        report.rows += 1
        if isinstance(found, str):
            _refuse(report, f"{path}:{line}: {found}", "bad_trace")
            continue
        try:
            batch.append(apply_redaction(redact, with_version(found, version)))
        except RowRefused as exc:
            _refuse(report, f"{path}:{line}: {exc.issue.message}", exc.issue.kind)
            continue
        if len(batch) >= BATCH:
            _commit(store, path, batch, report, stamp, version, environment)
            batch = []
    _commit(store, path, batch, report, stamp, version, environment)
    return report


def _commit(store: Store, path: Path, batch: list[TraceRecord], report: IngestReport, stamp: str,
            version: str, environment: str | None = None) -> None:
    if not batch:
        return
    try:
        with store.transaction() as conn:
            written, duplicates = traces.insert_traces(conn, batch, stamp=stamp, default_version=version,
                                                       environment=environment)
    except StoreError as exc:
        raise StoreError(f"stored {report.written:,} of {report.rows:,} traces before the store failed: "
                         f"{exc.what}", where=str(path), fix=(exc.fix or "") + "; then run the same command again "
                         "(traces already stored are skipped)") from None
    report.written += written
    report.issues["duplicate_trace"] += len(duplicates)
    report.already += len(duplicates)


def _refuse(report: IngestReport, message: str, kind: str) -> None:
    report.refused += 1
    report.issues[kind] += 1
    if len(report.problems) < SHOWN:
        report.problems.append(message)


def ingest_feedback(store: Store, app: str, path: str | Path, *, clock: Clock | None = None) -> IngestReport:
    """Store every feedback line of the file whose trace the app has (see the module docstring)."""
    path = Path(path)
    report = IngestReport(str(path), "feedback")
    stamp, digest = iso((clock or SystemClock()).now()), file_hash(path)[7:19]
    rows = list(_feedback(path, app, digest, stamp, report))
    with store.transaction() as conn:
        known = traces.known_traces(conn, app, [t for _, t, _ in rows])
        lines: list[list[traces.Feedback]] = []
        for line, tid, made in rows:
            if tid in known:
                lines.append(made)
            else:
                _refuse(report, f"{path}:{line}: no trace {tid!r} of app {app!r} in the store", "unknown_trace")
        before = traces.stored_keys(conn, [f.key for made in lines for f in made if f.key])
        traces.insert_feedback(conn, [f for made in lines for f in made], stamp=stamp)
    report.already = sum(all(f.key in before for f in made) for made in lines)  # counted in lines, as rows are
    report.written = len(lines) - report.already
    return report


def _feedback(path: Path, app: str, digest: str, stamp: str,
              report: IngestReport) -> Iterator[tuple[int, str, list[traces.Feedback]]]:
    for line, row in read_rows(path):
        report.rows += 1
        try:
            yield line, *_feedback_row(app, row, f"{digest}:{line}", stamp)
        except (ConfigError, ValueError) as exc:
            _refuse(report, f"{path}:{line}: {exc}", "bad_feedback")


def _feedback_row(app: str, row: dict[str, Any], key: str, stamp: str) -> tuple[str, list[traces.Feedback]]:
    unknown = [k for k in row if k not in FEEDBACK_KEYS]
    if unknown:
        near = difflib.get_close_matches(unknown[0], FEEDBACK_KEYS, n=1)
        raise ConfigError(f"unknown key {unknown[0]!r}" + (f" (did you mean {near[0]!r}?)" if near else ""),
                          expected=", ".join(FEEDBACK_KEYS))
    tid = row.get("trace_id")
    if tid is None or tid == "":
        raise ConfigError("no trace_id", expected="the id of the trace the feedback is about")
    when = stamp if row.get("time") is None else to_time(row["time"])
    return str(tid), feedback_rows(app, str(tid), thumbs=row.get("thumbs"), comment=row.get("comment"),
                                   correction=row.get("correction"), label=row.get("label"), by=row.get("by"),
                                   time=when, key=key)


def unknown_app(store: Store, app: str) -> MonitorError | None:
    """A clear error when ``app`` has no traces (naming the closest app), else None."""
    with store.transaction() as conn:
        known = traces.apps(conn)
    if app in known:
        return None
    near = difflib.get_close_matches(app, known, n=1)
    return MonitorError(f"no traces of app {app!r} in the store", where=store.where,
                        expected=f"one of: {', '.join(known)}" if known else "traces logged or ingested first",
                        fix=f"did you mean {near[0]!r}?" if near else "log traces with TraceLogger or "
                            "goldband monitor traces APP FILE")
