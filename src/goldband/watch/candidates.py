"""Production failures as candidate golden cases: what ``goldband golden candidates`` proposes.

Three sources, one shape (a mapping per candidate: ``id``, ``input``,
``output``, ``feedback``, ``reference``, ``tags``, ``provenance``; see
``goldband.golden.review``):

- ``production``: stored traces of an app, each with its feedback and its
  evaluation (``goldband monitor evaluate``), filtered by a ``--where``
  expression over ``FIELDS`` (``feedback=negative OR check_failed OR
  judge_score<3``). The proposed reference is the latest correction given in
  feedback, when there is one.
- ``run``: the failing (or erroring) trials of a stored run, their case's input
  read from the golden set the run used.
- ``file``: failures someone caught by hand, one JSON object per line (``input``
  required; ``output``, ``reference``, ``tags``, ``note`` optional).

Selection reads the store once with two set-based queries (feedback and
evaluations joined by trace), then filters in Python: a million traces take
seconds, not a query per trace (bench/bench_llm_traces.py).
"""

from __future__ import annotations

import difflib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from goldband._util.environment import environment_clause
from goldband.errors import ConfigError, MonitorError
from goldband.golden.goldenset import Case, load
from goldband.golden.similar import drop_near_duplicates
from goldband.golden.where import Where
from goldband.store.pgconn import is_postgres
from goldband.watch.tables import read_rows
from goldband.watch.tracerecords import record_text
from goldband.watch.wheresql import JOIN, to_sql

__all__ = ["COLUMNS", "FIELDS", "JOIN", "from_file", "from_production", "from_run", "pick_cases"]

COLUMNS = ("t.id, t.trace_id, t.span_id, t.version, t.time, t.input, t.output, t.latency_ms, t.cost, t.model, "
           "t.finish_reason, t.error, e.trace IS NOT NULL, e.checks_failed, e.judge_score, e.judge_error, e.refusal, "
           "e.empty, e.truncated")  # the row every field reader below indexes

FIELDS: dict[str, str] = {
    "feedback": "text",  # negative (a thumbs down), positive, none
    "check_failed": "bool", "checks_failed": "number", "judge_score": "number", "judged": "bool",
    "refusal": "bool", "empty": "bool", "truncated": "bool", "error": "bool", "corrected": "bool",
    "label": "text", "comment": "text", "version": "text", "model": "text", "finish_reason": "text",
    "latency_ms": "number", "cost": "number", "output": "text", "input": "text", "time": "text",
}
FILE_KEYS = ("input", "output", "reference", "tags", "note", "id")


def from_production(conn: sqlite3.Connection, app: str, where: Where | None, *,
                    limit: int | None, environment: str | None = None) -> Iterator[dict[str, Any]]:
    """Candidates from ``app``'s traces matching ``where`` (all when None), newest first, at most ``limit``;
    ``environment`` (as shown, ``default`` for traces logged without one): only the traces served there.

    SQLite picks the traces when the expression translates (``goldband.watch.wheresql``: every form but
    ``~``), else each is tested here, with only the fields the expression reads (a million traces: seconds
    in SQL, about 12 s in Python; bench/bench_llm_traces.py).
    """
    feedback = _feedback(conn, app)
    query = to_sql(where) if where is not None else ("TRUE", [])
    sql, params = query or ("TRUE", [])  # the database picks them when it can: the Python rules (test_wheresql.py)
    served, served_params = ("TRUE", []) if environment is None else environment_clause(environment, "t.environment")
    rows = conn.execute(f"SELECT {COLUMNS} FROM {JOIN} WHERE t.app = ? AND {served} AND {sql} "
                        "ORDER BY t.time DESC, t.id DESC", [app, *served_params, *params])
    picked: Iterator[tuple[Any, ...]] = iter(rows) if query is not None or where is None else (
        row for row in rows if where.matches(_record(row, feedback.get(row[1], _NONE), where.fields)))
    for found, row in enumerate(picked, 1):
        given = feedback.get(row[1], _NONE)
        yield _candidate(app, row, {name: read(row, given) for name, read in _FIELD.items()}, given, where)
        if limit is not None and found >= limit:
            return


def _record(row: tuple[Any, ...], given: list[dict[str, Any]], fields: frozenset[str]) -> dict[str, Any]:
    """Only the fields the expression reads."""
    return {name: _FIELD[name](row, given) for name in fields}


_NONE: list[dict[str, Any]] = []


def _feedback(conn: sqlite3.Connection, app: str) -> dict[str, list[dict[str, Any]]]:
    given: dict[str, list[dict[str, Any]]] = {}
    for tid, kind, value, score, by, time in conn.execute(
            "SELECT trace_id, kind, value, score, by, time FROM llm_feedback WHERE app = ? ORDER BY time, id", [app]):
        given.setdefault(tid, []).append({"kind": kind, "value": value, "score": score, "by": by, "time": time})
    return given


def _thumbs(given: list[dict[str, Any]]) -> str:
    scores = [f["score"] for f in given if f["kind"] == "thumbs"]
    return "none" if not scores else "negative" if scores[-1] < 0 else "positive"


def _latest(given: list[dict[str, Any]], kind: str) -> Any:
    return next((f["value"] for f in reversed(given) if f["kind"] == kind), None)


def _evaluated(at: int) -> Callable[[tuple[Any, ...], list[dict[str, Any]]], Any]:
    """A flag of the trace's evaluation (None when it was not evaluated: never matches a comparison)."""
    return lambda row, _: (bool(row[at]) if row[12] else None)


# What ``--where`` can test for one trace, each read from (the row, its feedback); FIELDS gives their types.
_FIELD: dict[str, Callable[[tuple[Any, ...], list[dict[str, Any]]], Any]] = {
    "feedback": lambda row, given: _thumbs(given),
    "corrected": lambda row, given: any(f["kind"] == "correction" for f in given),
    "label": lambda row, given: _latest(given, "label"),
    "comment": lambda row, given: _latest(given, "comment"),
    "version": lambda row, _: row[3], "time": lambda row, _: row[4], "input": lambda row, _: row[5],
    "output": lambda row, _: row[6], "latency_ms": lambda row, _: row[7], "cost": lambda row, _: row[8],
    "model": lambda row, _: row[9], "finish_reason": lambda row, _: row[10],
    "error": lambda row, _: row[11] is not None,
    "judged": lambda row, _: (row[14] is not None or row[15] is not None) if row[12] else None,
    "check_failed": _evaluated(13), "checks_failed": lambda row, _: row[13], "judge_score": lambda row, _: row[14],
    "refusal": _evaluated(16), "empty": _evaluated(17), "truncated": _evaluated(18),
}


def _candidate(app: str, row: tuple[Any, ...], fields: dict[str, Any], given: list[dict[str, Any]],
               where: Where | None) -> dict[str, Any]:
    _, trace_id, span_id, version, time, text, output, *_ = row
    correction = next((f["value"] for f in reversed(given) if f["kind"] == "correction"), None)
    why = [k for k in ("feedback", "check_failed", "judge_score", "refusal", "empty", "truncated", "error")
           if _notable(k, fields.get(k))]
    note = ("matched " + where.text if where is not None else "every trace") + (
        f" ({', '.join(f'{k}={fields[k]}' for k in why)})" if why else "")
    ref = trace_id + (f"/{span_id}" if span_id else "")
    return {"id": _case_id("prod", trace_id), "input": orjson.loads(text), "output": output,
            "feedback": [{k: v for k, v in f.items() if v is not None} for f in given], "reference": correction,
            "tags": ["production"] + ([str(fields["label"])] if fields.get("label") else []),
            "provenance": {"source": "production", "ref": f"{app}:{ref}", "note": note, "time": time,
                           "version": version, "added": date.today().isoformat()}}


def _notable(key: str, value: Any) -> bool:
    if key == "feedback":
        return bool(value == "negative")
    if key == "judge_score":
        return value is not None
    return bool(value)


def _case_id(prefix: str, ref: str) -> str:
    clean = "".join(c if c.isalnum() or c in "-_." else "-" for c in ref).strip("-.") or "x"
    return f"{prefix}-{clean[:40]}"


# -- near-duplicates ---------------------------------------------------------------------------------


def pick_cases(stream: Iterator[dict[str, Any]], cases: Sequence[Case], *, limit: int,
               threshold: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Up to ``limit`` candidates of ``stream``, none a near-duplicate of one of ``cases`` or of another; the
    dropped ones (ref, what they duplicate, score); how many the stream gave. Taken in chunks, so a million
    matching traces are not all compared when the first hundred give enough."""
    existing = [record_text(c.input) for c in cases]
    ids = [c.id for c in cases]
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    matched = 0
    chunk: list[dict[str, Any]] = []
    for candidate in stream:
        matched += 1
        chunk.append(candidate)
        if len(chunk) >= max(2 * (limit - len(kept)), 100):
            _dedupe(chunk, existing, ids, kept, dropped, threshold)
            chunk = []
            if len(kept) >= limit:
                break
    _dedupe(chunk, existing, ids, kept, dropped, threshold)
    return kept[:limit], dropped, matched


def _dedupe(chunk: list[dict[str, Any]], existing: list[str], ids: list[str], kept: list[dict[str, Any]],
            dropped: list[dict[str, Any]], threshold: float) -> None:
    """Keep the chunk's candidates that duplicate neither a case nor an earlier kept candidate."""
    if not chunk:
        return
    keep, gone = drop_near_duplicates(
        [record_text(c["input"]) for c in chunk], [*existing, *(record_text(c["input"]) for c in kept)],
        threshold=threshold, existing_ids=[*ids, *(f"{c['id']} (an earlier candidate)" for c in kept)],
        candidate_ids=[c["id"] for c in chunk])
    dropped += [{"ref": chunk[i]["provenance"].get("ref"), "duplicate_of": what, "score": round(float(score), 1)}
                for i, what, score in gone]
    kept += [chunk[i] for i in keep]


# -- a stored run's failing trials --------------------------------------------------------------


def from_run(conn: sqlite3.Connection, run_id: str, root: Path, *, limit: int | None) -> Iterator[dict[str, Any]]:
    """Candidates from the failing and erroring trials of run ``run_id`` (one per case x target)."""
    if conn.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone() is None:
        known = [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY started_at DESC LIMIT 200")]
        near = difflib.get_close_matches(run_id, known, n=1)
        raise MonitorError(f"no run {run_id!r} in the store", where="--from-run",
                           expected="a run id (goldband history lists them)",
                           fix=f"did you mean {near[0]!r}?" if near else "goldband history")
    why = "s.check_name || ': ' || coalesce(s.detail, '')"
    joined = f"string_agg({why}, '; ' ORDER BY s.idx)" if is_postgres(conn) else f"group_concat({why}, '; ')"
    rows = conn.execute(
        "SELECT t.goldenset, t.case_id, t.target, t.sample, t.outcome, t.output, t.error, t.created_at, "
        f"(SELECT {joined} FROM scores s WHERE s.trial_id = t.id AND s.outcome != 'pass') FROM trials t "
        "WHERE t.run_id = ? AND t.outcome != 'pass' ORDER BY t.goldenset, t.case_id, t.target, t.sample", [run_id])
    seen: set[tuple[str, str, str]] = set()
    cases: dict[str, dict[str, Case]] = {}
    for goldenset, case_id, target, sample, outcome, output, error, created, why in rows:
        if (goldenset, case_id, target) in seen:
            continue
        seen.add((goldenset, case_id, target))
        case = _case_of(root, goldenset, case_id, cases)
        yield {"id": _case_id("run", f"{case_id}-{target}"), "input": case.input if case else None,
               "output": output, "feedback": [], "reference": case.reference if case else None,
               "tags": ["failure", *(case.tags if case else ())],
               "provenance": {"source": "failure", "ref": f"run {run_id}: {goldenset}/{case_id}[{target}] "
                                                          f"sample {sample}",
                              "note": f"{outcome}: {error or why or 'failed its checks'}"[:500],
                              "time": created, "added": date.today().isoformat()}}
        if limit is not None and len(seen) >= limit:
            return


def _case_of(root: Path, goldenset: str, case_id: str, cache: dict[str, dict[str, Case]]) -> Case | None:
    """The case from ``goldensets/<name>.yaml``, read by the golden-set loader (once per set); None when the
    set or the case is gone."""
    if goldenset not in cache:
        path = root / "goldensets" / f"{goldenset}.yaml"
        cache[goldenset] = {c.id: c for c in load(path, base_dir=root).cases} if path.is_file() else {}
    return cache[goldenset].get(case_id)


# -- failures caught by hand -------------------------------------------------------------------------


def from_file(path: Path, *, limit: int | None) -> Iterator[dict[str, Any]]:
    """Candidates from a JSON Lines file of hand-caught failures; ConfigError names file:line of a bad one."""
    for n, (line, row) in enumerate(read_rows(path), 1):
        unknown = [k for k in row if k not in FILE_KEYS]
        if unknown or "input" not in row:
            near = difflib.get_close_matches(unknown[0], FILE_KEYS, n=1) if unknown else []
            raise ConfigError(f"unknown key {unknown[0]!r}" if unknown else "no input", where=f"{path}:{line}",
                              expected=f"keys {', '.join(FILE_KEYS)} (input required)",
                              fix=f"did you mean {near[0]!r}?" if near else "add the input the model got")
        yield {"id": str(row.get("id") or _case_id("caught", f"{path.stem}-{line}")), "input": row["input"],
               "output": row.get("output"), "feedback": [], "reference": row.get("reference"),
               "tags": ["failure", *(row.get("tags") or [])],
               "provenance": {"source": "failure", "ref": f"{path.name}:{line}",
                              "note": row.get("note") or "caught by hand", "added": date.today().isoformat()}}
        if limit is not None and n >= limit:
            return
