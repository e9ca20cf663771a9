"""Batch ingestion: predictions and labels from CSV, JSON Lines or Parquet files.

Rows are checked one by one with the logger's rules (``goldband.watch.records``)
and written in batches, one transaction each. A bad row is refused and
reported with its ``file:line``; the rest of the file is stored. A prediction
without an id column gets a deterministic id (the file's hash and the row's
line), so ingesting the same file twice stores it once: after an interrupted
ingestion, run the same command again.

When the model version has a reference, the file's columns are compared with
its features first: a column that is not a feature is stored but reported
(with the closest feature name), and a feature missing from the file is
reported (its values count as missing).
"""

from __future__ import annotations

import difflib
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goldband._util.nogc import collector_paused
from goldband.clock import Clock, SystemClock, iso
from goldband.config.monitors import ColumnsConfig
from goldband.errors import MonitorError, RowRefused, StoreError
from goldband.watch import db
from goldband.watch.records import Issue, LabelRow, PredictionRow, label_row, prediction_row
from goldband.watch.reference import references
from goldband.watch.tables import file_format, file_hash, read_rows

if TYPE_CHECKING:
    from goldband.store import Store

__all__ = ["IngestReport", "ingest_labels", "ingest_predictions"]

BATCH = 5000
_Roles = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]  # feature columns, (probability column, class)
SHOWN = 10  # refused rows listed one by one in a report
_REFUSALS = frozenset({"bad_row", "duplicate_id", "bad_time", "bad_prediction", "bad_label", "bad_trace",
                       "duplicate_trace", "redaction_failed", "bad_feedback", "unknown_trace"})


@dataclass
class IngestReport:
    """What one file ingestion did."""

    path: str
    kind: str  # predictions | labels
    rows: int = 0
    written: int = 0
    refused: int = 0
    already: int = 0  # traces or feedback stored by an earlier ingestion of the same records (not refused)
    problems: list[str] = field(default_factory=list)  # the first SHOWN refused rows, as file:line: message
    issues: Counter[str] = field(default_factory=Counter)  # kept-but-counted and refused problems by kind
    warnings: list[str] = field(default_factory=list)  # about the file as a whole (columns)
    kept: list[Issue] = field(default_factory=list, repr=False)  # issues of kept rows not yet committed

    def summary(self) -> str:
        text = f"{self.path}: stored {self.written:,} of {self.rows:,} {self.kind}"
        if self.already:
            text += f", {self.already:,} already stored"
        if self.refused:
            text += f", refused {self.refused:,}"
        kept = {k: n for k, n in self.issues.items() if k not in _REFUSALS}
        if kept:
            text += " (kept with issues: " + ", ".join(f"{k} {n:,}" for k, n in sorted(kept.items())) + ")"
        return text


def ingest_predictions(store: Store, model: str, path: str | Path, *, version: str | None = None,
                       columns: ColumnsConfig | None = None, features: Iterable[str] | None = None,
                       clock: Clock | None = None, environment: str | None = None) -> IngestReport:
    """Store every prediction in the file; see the module docstring for what is refused and kept.

    ``environment``: where they were served, as stored (checked by the caller; None: the default)."""
    path, cols = Path(path), columns or ColumnsConfig()
    rows, names = _read(path, [(cols.prediction, "prediction", "--prediction-column")])
    report = IngestReport(str(path), "predictions")
    chosen = None if features is None else frozenset(features)
    default_id, stamp = file_hash(path)[7:19], iso((clock or SystemClock()).now())
    plans: dict[tuple[str, ...], _Roles] = {}
    made = (_prediction(model, version, line, row, cols, chosen, default_id, stamp, report, plans)
            for line, row in rows)
    _write(store, model, path, made, report, stamp, environment)
    report.warnings = _column_warnings(store, model, version, list(names), cols, chosen)
    return report


def ingest_labels(store: Store, model: str, path: str | Path, *, columns: ColumnsConfig | None = None,
                  clock: Clock | None = None) -> IngestReport:
    """Store every label in the file (a later label for the same prediction id replaces the earlier)."""
    path, cols = Path(path), columns or ColumnsConfig()
    rows, _ = _read(path, [(cols.id, "prediction id", "--id-column"), (cols.label, "label", "--label-column")])
    report = IngestReport(str(path), "labels")
    stamp = iso((clock or SystemClock()).now())
    made = (_label(model, line, row, cols, stamp, report) for line, row in rows)
    _write(store, model, path, made, report, stamp)
    return report


def _read(path: Path, required: list[tuple[str, str, str]]) -> tuple[Iterator[tuple[int, dict[str, Any]]],
                                                                       dict[str, None]]:
    """The file's ``(line, row)`` pairs, streamed, and its column names (filled in as the rows pass).

    Only the first row is read up front, so memory does not grow with the file. MonitorError when the file
    has no rows or no row has one of the ``required`` ``(column, what, option)`` (CSV and Parquet rows carry
    every column; a JSON Lines file whose first row lacks one is scanned once more for it).
    """
    rows = read_rows(path)
    first = next(rows, None)
    if first is None:
        raise MonitorError("empty batch: the file has no rows", where=str(path),
                           expected="at least one row after the header", fix="check the export that wrote it")
    names = dict.fromkeys(first[1])
    if any(name not in names for name, _, _ in required):
        names = dict.fromkeys(k for _, row in read_rows(path) for k in row)  # the rare case: a second pass
    for name, what, option in required:
        if name not in names:
            near = difflib.get_close_matches(name, list(names), n=1)
            raise MonitorError(f"no {what} column {name!r}", where=str(path), expected=f"a column named {name!r}",
                               fix=f"name it with {option}" + (f" (did you mean {near[0]!r}?)" if near else ""))
    rows = itertools.chain([first], rows)
    return (_noting(rows, names) if file_format(path) == "jsonl" else rows), names


def _noting(rows: Iterator[tuple[int, dict[str, Any]]], names: dict[str, None]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows unchanged, adding to ``names`` any column a row has that earlier rows did not (JSON Lines: a
    CSV or Parquet row has every column)."""
    for line, row in rows:
        if not row.keys() <= names.keys():
            names.update(dict.fromkeys(row))
        yield line, row


def _prediction(model: str, version: str | None, line: int, row: dict[str, Any], cols: ColumnsConfig,
                chosen: frozenset[str] | None, default_id: str, stamp: str,
                report: IngestReport, plans: dict[tuple[str, ...], _Roles]) -> PredictionRow | Issue | None:
    report.rows += 1
    keys = tuple(row)
    names, probas = plans.get(keys) or plans.setdefault(keys, _roles(keys, cols, chosen))
    proba = {label: row[k] for k, label in probas if row[k] is not None}
    feats = {k: row[k] for k in names}
    found: list[Issue] = []
    try:
        made = prediction_row(model, str(row.get(cols.version) or version or "1"), feats, row.get(cols.prediction),
                              prediction_id=row.get(cols.id) or f"{default_id}:{line}",
                              time=row.get(cols.time) or stamp, confidence=row.get(cols.confidence),
                              proba=proba or None, issues=found)
    except RowRefused as exc:
        return _refuse(report, line, exc.issue)
    for issue in found:
        report.issues[issue.kind] += 1
    report.kept.extend(found)
    return made


def _roles(keys: tuple[str, ...], cols: ColumnsConfig, chosen: frozenset[str] | None) -> _Roles:
    """A row's feature columns and its ``(column, class)`` probability columns: worked out once per header."""
    special, prefix = cols.special(), cols.proba_prefix
    probas = tuple((k, k[len(prefix):]) for k in keys if k.startswith(prefix))
    names = tuple(k for k in keys if k not in special and not k.startswith(prefix) and (chosen is None or k in chosen))
    return names, probas


def _label(model: str, line: int, row: dict[str, Any], cols: ColumnsConfig, stamp: str,
           report: IngestReport) -> LabelRow | Issue | None:
    report.rows += 1
    try:
        return label_row(model, row.get(cols.id), row.get(cols.label), time=row.get(cols.time) or stamp)
    except RowRefused as exc:
        return _refuse(report, line, exc.issue)


def _refuse(report: IngestReport, line: int, issue: Issue) -> Issue:
    report.refused += 1
    report.issues[issue.kind] += 1
    message = f"{report.path}:{line}: {issue.message}"
    if len(report.problems) < SHOWN:
        report.problems.append(message)
    return Issue(issue.kind, issue.field, message)


def _write(store: Store, model: str, path: Path, made: Iterator[Any], report: IngestReport, stamp: str,
           environment: str | None = None) -> None:
    """Commit in batches; on a store error say how much is already stored, and that a re-run is safe.

    A batch is committed on a second thread while the next one is read and checked: SQLite releases the GIL
    while it writes, so the two overlap on two cores. One batch is in flight at a time and its result is
    counted in the report, in order, on this thread (the only one that touches the report). A batch is
    built with the cyclic collector paused (thousands of acyclic dicts and tuples whose allocation set off
    collections: a sixth of the ingest time, docs/bench-monitor-volume.md); it runs again between batches,
    so memory stays bounded whatever a file holds.
    """
    rows = iter(made)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="goldband-ingest") as writer:
        pending: Future[tuple[int, list[Issue]]] | None = None
        while True:
            with collector_paused():
                batch = list(itertools.islice(rows, BATCH))
            kept, report.kept = report.kept, []
            if pending is not None:
                _count(report, path, pending)
            pending = writer.submit(_commit, store, model, batch, kept, stamp, environment)
            if len(batch) < BATCH:
                break
        _count(report, path, pending)


def _commit(store: Store, model: str, batch: list[Any], kept: list[Issue], stamp: str,
            environment: str | None = None) -> tuple[int, list[Issue]]:
    """Store one batch in one transaction: rows written, and the duplicate ids refused."""
    predictions = [r for r in batch if isinstance(r, PredictionRow)]
    labels = [r for r in batch if isinstance(r, LabelRow)]
    found = [r for r in batch if isinstance(r, Issue)] + kept
    with store.transaction() as conn:
        written, duplicates = db.insert_predictions(conn, predictions, stamp=stamp, environment=environment)
        written += db.insert_labels(conn, labels, stamp=stamp)
        db.add_issues(conn, model, [*found, *duplicates])
    return written, duplicates


def _count(report: IngestReport, path: Path, done: Future[tuple[int, list[Issue]]]) -> None:
    """Add a committed batch to the report; a store error says how much is stored and that a re-run is safe."""
    try:
        written, duplicates = done.result()
    except StoreError as exc:
        raise StoreError(f"stored {report.written:,} of {report.rows:,} rows before the store failed: {exc.what}",
                         where=str(path), fix=(exc.fix or "") + "; then run the same command again (rows already "
                         "stored are skipped)") from None
    report.written += written
    report.refused += len(duplicates)
    for issue in duplicates:
        report.issues[issue.kind] += 1
        if len(report.problems) < SHOWN:
            report.problems.append(f"{path}: {issue.message}")


def _column_warnings(store: Store, model: str, version: str | None, columns: list[str], cols: ColumnsConfig,
                     chosen: frozenset[str] | None) -> list[str]:
    refs = references(store, model)
    spec = refs.get(str(version or "1"), {}).get("spec") if refs else None
    if not spec:
        return []
    known = list(spec["features"])
    names = [n for n in columns
             if n not in cols.special() and not n.startswith(cols.proba_prefix) and (chosen is None or n in chosen)]
    warnings = []
    for name in (n for n in names if n not in known):
        near = difflib.get_close_matches(name, known, n=1)
        warnings.append(f"column {name!r} is not a feature of the reference of {model!r}"
                        + (f" (did you mean {near[0]!r}?)" if near else "") + "; stored, not tested")
    warnings += [f"feature {name!r} of the reference is not in the file; its values count as missing"
                 for name in known if name not in names]
    return warnings
