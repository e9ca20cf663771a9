"""``--where`` in SQL picks exactly the traces the Python rules pick, on random expressions and a real store."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldband.golden.where import parse_where
from goldband.store import Store, open_store
from goldband.watch import candidates, traces
from goldband.watch.tracerecords import TraceRecord
from goldband.watch.wheresql import to_sql
from pgkit import BACKENDS, PostgresServer, database_name

STAMP = "2026-05-02T00:00:00.000+00:00"


@pytest.fixture(scope="module", params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """120 traces: some evaluated (checks, judge, refusal...), some with feedback of every kind, some failed;
    once per backend (the store_at fixture's two, built once for the module: the property tests only read)."""
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "sqlite":
            where = str(tmp_path_factory.mktemp("s") / "s.db")
        else:
            server: PostgresServer = request.getfixturevalue("postgres")
            patch.setenv("PGPASSFILE", str(server.passfile))
            where = server.create_database(database_name("wheresql"))
        with open_store(where) as opened:
            fill(opened)
            yield opened


def fill(opened: Store) -> None:
    rng = random.Random(4)
    records = [TraceRecord("app", f"t{i}", f"2026-05-01T10:00:{i % 60:02d}.{i:03d}+00:00", {"q": f"q{i}"},
                           rng.choice([None, "", "ok", "I'm sorry, but I can't help", "Longer answer " * 3]),
                           version=rng.choice(["1", "2", "10"]), latency_ms=rng.choice([None, 0.0, 120.5, 900.0]),
                           cost=rng.choice([None, 0.001]), model=rng.choice([None, "m-a", "m-b"]),
                           finish_reason=rng.choice([None, "stop", "length"]),
                           error=rng.choice([None, None, "timeout"])) for i in range(120)]
    with opened.transaction() as conn:
        traces.insert_traces(conn, records, stamp=STAMP)
        ids = dict(conn.execute("SELECT trace_id, id FROM llm_traces").fetchall())
        for r in records:
            if rng.random() < 0.6:
                conn.execute("INSERT INTO llm_evaluations (trace, app, version, \"window\", checks_passed, "
                             "checks_failed, judge_score, judge_error, refusal, empty, truncated) "
                             "VALUES (?, 'app', ?, 1, ?, ?, ?, ?, ?, ?, ?)",
                             [ids[r.trace_id], r.version, rng.randint(0, 3), rng.choice([0, 0, 1, 2]),
                              rng.choice([None, 1.0, 2.5, 4.0]), rng.choice([None, None, "judge failed"]),
                              rng.randint(0, 1), rng.randint(0, 1), rng.randint(0, 1)])
        given = []
        for i, r in enumerate(records):
            for j in range(rng.choice([0, 0, 1, 3])):
                kind = rng.choice(["thumbs", "comment", "correction", "label"])
                score = rng.choice([1, -1]) if kind == "thumbs" else None
                value = ("up" if score == 1 else "down") if kind == "thumbs" else rng.choice(["wrong", "slow", ""])
                given.append(traces.Feedback("app", r.trace_id, kind, value, score, None,
                                             f"2026-05-01T11:00:{j:02d}.{i:03d}+00:00"))
        traces.insert_feedback(conn, given, stamp=STAMP)


LEAVES = ["feedback=negative", "feedback != positive", "feedback = none", "check_failed", "NOT check_failed",
          "checks_failed >= 1", "judge_score < 3", "judge_score = null", "judge_score != null", "judged",
          "refusal", "refusal = false", "empty", "truncated = true", "error", "corrected", "label = wrong",
          "label != slow", "comment", "version = 10", "version > 1", "model = m-a", "model != null",
          "finish_reason = length", "latency_ms > 100", "latency_ms <= 0", "cost", "output", "output = ''",
          'time >= "2026-05-01T10:00:30"']


def expressions() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(LEAVES)
    return st.recursive(leaf, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" AND ", " OR "]), inner).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
        inner.map(lambda e: f"NOT ({e})")), max_leaves=6)


def picked_in_python(store: Store, text: str) -> set[str]:
    where = parse_where(text, fields=candidates.FIELDS)
    feedback = candidates._feedback(store.conn, "app")
    rows = store.conn.execute(f"SELECT {candidates.COLUMNS} FROM {candidates.JOIN} WHERE t.app = 'app'").fetchall()
    return {row[1] for row in rows if where.matches({name: read(row, feedback.get(row[1], []))
                                                     for name, read in candidates._FIELD.items()})}


def picked_in_sql(store: Store, text: str) -> set[str]:
    found = to_sql(parse_where(text, fields=candidates.FIELDS))
    assert found is not None
    condition, params = found
    return {r[0] for r in store.conn.execute(f"SELECT t.trace_id FROM {candidates.JOIN} WHERE t.app = 'app' AND "
                                             f"{condition}", params)}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expressions())
def test_sql_and_python_pick_the_same_traces(store: Store, text: str) -> None:
    assert picked_in_sql(store, text) == picked_in_python(store, text)


@pytest.mark.parametrize("text", LEAVES)
def test_every_leaf_picks_some_and_not_all(store: Store, text: str) -> None:
    """The store exercises each leaf both ways, so the property test above is not vacuous."""
    picked = picked_in_python(store, text)
    assert 0 < len(picked) < 120 and picked == picked_in_sql(store, text)


def test_contains_is_left_to_python(tmp_path: Path) -> None:
    assert to_sql(parse_where("comment ~ wrong OR refusal", fields=candidates.FIELDS)) is None
