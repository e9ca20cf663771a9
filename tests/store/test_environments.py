"""Environments in the store: runs and series points carry one; old stores read as the default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from envkit import env_run
from goldband._util.environment import check_environment, environment_clause, shown
from goldband.errors import UsageError
from goldband.store import SeriesPoint, Store, open_store, schema
from storefixtures import store_before


@pytest.fixture
def store(store_at: str) -> Iterator[Store]:
    """Runs in three environments, once per backend; closed after the test."""
    with open_store(store_at) as made:
        env_run(made, "20261101-120000-0001", 1, None)
        env_run(made, "20261102-120000-0002", 2, "staging", "FAIL")
        env_run(made, "20261103-120000-0003", 3, "production")
        yield made


def test_runs_record_and_filter_by_environment(store: Store) -> None:
    assert [r.environment for r in store.runs()] == ["production", "staging", None]
    assert [r.id for r in store.runs(environment="staging")] == ["20261102-120000-0002"]
    assert [r.id for r in store.runs(environment="default")] == ["20261101-120000-0001"]
    assert store.runs(environment="eu-west") == []
    history = store.case_history("support", "refund-window", "support-v1", environment="production")
    assert [p.run_id for p in history] == ["20261103-120000-0003"]


def test_series_points_take_their_runs_environment(store: Store) -> None:
    staged = store.series(metric="pass_rate", environment="staging")
    assert [(p.run_id, p.environment, p.value) for p in staged] == [("20261102-120000-0002", "staging", 0.4)]
    assert [p.environment for p in store.series(metric="pass_rate")] == [None, "staging", "production"]
    store.append_series([SeriesPoint("classic-ml", "churn", "accuracy", 0.9, environment="eu-west")])
    assert [p.model for p in store.series(environment="eu-west")] == ["churn"]


def test_an_old_store_migrates_and_its_rows_read_as_the_default(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = store_before(path, "0012_environments")
    db.conn.execute("INSERT INTO runs (id, kind, status, started_at) VALUES ('old', 'ci', 'complete', "
                    "'2026-10-01T00:00:00.000+00:00')")
    db.conn.close()
    with open_store(path) as migrated:
        assert migrated.schema_version == len(schema.names())
        (run,) = migrated.runs()
        assert run.id == "old" and run.environment is None and shown(run.environment) == "default"
        assert [r.id for r in migrated.runs(environment="default")] == ["old"]
        indexes = {tuple(i.columns) for i in migrated.db.table("runs").indexes}
        assert ("environment", "started_at") in indexes


@pytest.mark.parametrize("bad", ["Production", "eu west", "-staging", "x" * 41, "prod/eu"])
def test_a_bad_environment_name_is_one_clear_message(bad: str) -> None:
    with pytest.raises(UsageError) as caught:
        check_environment(bad, where="--environment")
    message = str(caught.value)
    assert message.startswith(f"--environment: environment {bad!r} is not a valid name")
    assert "lowercase letters, digits" in message and "fix: use e.g." in message


def test_the_default_environment_is_stored_as_null() -> None:
    assert check_environment(None, where="x") is None and check_environment(" default ", where="x") is None
    assert check_environment("eu-west.1", where="x") == "eu-west.1"
    assert environment_clause(None) == ("environment IS NULL", [])


def test_each_environment_is_its_own_series(store: Store) -> None:
    """The environment is part of a run series' labels: drift in staging never feeds production's watch."""
    keys = {p.labels.get("environment") for p in store.series(metric="pass_rate")}
    assert keys == {None, "staging", "production"}


def test_the_environment_option_reads_its_variable_and_refuses_a_bad_name() -> None:
    from goldband.config import settings as gs
    from goldband.errors import OptionError

    assert gs.resolve("environment", None, None, env={"GOLDBAND_ENVIRONMENT": "eu-west"}) == "eu-west"
    assert gs.resolve("environment", None, "staging", env={}) == "staging"
    with pytest.raises(OptionError, match="environment variable GOLDBAND_ENVIRONMENT: expected an environment name"):
        gs.resolve("environment", None, None, env={"GOLDBAND_ENVIRONMENT": "Prod EU"})
