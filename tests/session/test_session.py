"""The session's seams: one store per session, each verdict written once, one verdict rule, goldband.run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import goldband
from goldband.checks.base import CheckContext, CheckSpec
from goldband.config.settings import Settings
from goldband.engine.execute import run_case
from goldband.engine.plan import Services
from goldband.engine.scheduler import Engine
from goldband.results import Score
from goldband.session import recorder, storage
from goldband.session.session import Session
from goldband.session.settle import settle
from goldband.store import open_store
from goldband.testing import FakeOpenAI
from judgekit import project, reply, serve

APP = '''
def answer(inp):
    return "right" if inp["q"] != "c" else "wrong"
'''


def app_project(root: Path, *, band: str = "") -> Path:
    """A callable target (no provider) with three cases; ``band`` goes under defaults."""
    (root / "goldensets").mkdir()
    (root / "app_under_test.py").write_text(APP)
    (root / "goldband.yaml").write_text("targets:\n  app:\n    callable: app_under_test:answer\n")
    cases = "".join(f"  - id: {c}\n    input: {{q: {c}}}\n" for c in "abc")
    (root / "goldensets" / "s.yaml").write_text(
        f"name: s\nversion: 1\ndefaults:\n  runs: 3\n{band}  checks: [{{equals: right}}]\ncases:\n{cases}")
    return root


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every store the session opens (the handle's only way to open one)."""
    seen: list[Path] = []
    real = storage.open_store

    def counting(path: Any, **kwargs: Any) -> Any:
        seen.append(Path(path))
        return real(path, **kwargs)

    monkeypatch.setattr(storage, "open_store", counting)
    return seen


def test_a_session_opens_its_store_once_for_history_baseline_recorder_writer_and_judge_cache(
        tmp_path: Path, openai_server: FakeOpenAI, opens: list[Path], store_at: str) -> None:
    root = project(tmp_path, openai_server.url, cases=2, runs=2,
                   case_extra="    band: {history: true, quarantine: true}\n")
    serve(openai_server, [reply()])
    first = goldband.run(root=root, store=store_at)
    assert first.run_id is not None and opens == [Path(store_at)]
    opens.clear()
    second = goldband.run(root=root, store=store_at, baseline="latest")  # history, baseline, judge cache, writes
    assert second.comparison is not None and second.run_id is not None
    assert opens == [Path(store_at)]


def test_each_verdict_is_written_once_with_its_baseline_delta(tmp_path: Path, opens: list[Path], store_at: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = app_project(tmp_path)
    store = store_at
    goldband.run(root=root, store=store)
    written: list[str] = []
    real = recorder.insert_verdict

    def counting(conn: Any, run_id: str, record: Any) -> None:
        written.append(record.case_id)
        real(conn, run_id=run_id, record=record)

    monkeypatch.setattr(recorder, "insert_verdict", counting)
    result = goldband.run(root=root, store=store, baseline="latest")
    assert sorted(written) == ["a", "b", "c"]
    with open_store(store, create=False) as db:
        stored = db.verdicts(result.run_id or "")
    assert {key[1]: v.verdict.baseline.outcome for key, v in stored.items() if v.verdict.baseline} == {
        "a": "not significant", "b": "not significant", "c": "not significant"}


def test_goldband_run_returns_every_outcome_and_the_exit_status(tmp_path: Path) -> None:
    result = goldband.run(root=app_project(tmp_path))
    assert [o.key for o in result.outcomes] == [("s", c, "app") for c in "abc"]
    assert [o.verdict.status for o in result.outcomes] == ["PASS", "PASS", "FAIL"]
    assert result.exit_status == 1 and not result.passed and result.run_id is None
    assert result.outcome("c").verdict.passes == 0 and len(result.outcome("c").trials) == 3
    assert not (tmp_path / ".goldband").exists() and not (tmp_path / "reports").exists()


def test_goldband_run_names_a_missing_golden_set(tmp_path: Path) -> None:
    with pytest.raises(goldband.ConfigError, match=r"no golden set at nope\.yaml"):
        goldband.run("nope.yaml", root=app_project(tmp_path))


def test_goldband_run_records_a_run_like_pytest(tmp_path: Path) -> None:
    root = app_project(tmp_path)
    result = goldband.run(root=root, store="store.db", report="reports")
    assert result.run_id is not None
    with open_store(root / "store.db", create=False) as db:
        run = db.run(result.run_id)
        stored = db.verdicts(result.run_id)
    assert run is not None and run.status == "complete" and run.exit_status == 1
    assert sorted(v.nodeid or "" for v in stored.values()) == [
        "goldensets/s.yaml::s::a[app]", "goldensets/s.yaml::s::b[app]", "goldensets/s.yaml::s::c[app]"]
    assert (root / "reports" / result.run_id / "report.html").is_file()


class ConstantJudge:
    """A judge that is nothing but the engine's Judge protocol."""

    def __init__(self) -> None:
        self.graded: list[str] = []

    async def grade(self, check: CheckSpec, ctx: CheckContext, engine: Engine) -> list[Score]:
        self.graded.append(ctx.trial.case_id)
        return [Score(check.describe(), "pass", 1.0, "graded by the protocol", kind="rubric")]


def test_the_engine_sees_the_judge_only_through_its_protocol(tmp_path: Path, openai_server: FakeOpenAI) -> None:
    root = project(tmp_path, openai_server.url, runs=2)
    serve(openai_server, [reply()])
    session = Session.create(Settings(rootpath=root, paths=(str(root / "goldensets"),), runs=None, targets=None,
                                      mode=None, concurrency=None, timeout_s=None, worker=False, store="off",
                                      report="off"))
    try:
        (plan,) = session.plans(session.load(root / "goldensets" / "s.yaml"))
        judge = ConstantJudge()
        engine = Engine(concurrency=4)
        try:
            run = engine.submit(run_case(Services(engine, judge=judge), plan)).result()
        finally:
            engine.close()
    finally:
        session.close()
    assert judge.graded == ["c0", "c0"]
    assert [[s.detail for s in t.scores] for t in run.trials] == [["graded by the protocol"]] * 2
    unjudged = Engine(concurrency=1)
    try:
        bare = unjudged.submit(run_case(Services(unjudged), plan)).result()
    finally:
        unjudged.close()
    assert [t.outcome for t in bare.trials] == ["error", "error"]  # a judged check without a judge: an error


def test_settle_applies_the_band_then_quarantine_then_the_judge_gate(tmp_path: Path) -> None:
    root = app_project(tmp_path)
    session = Session.create(Settings(rootpath=root, paths=(str(root / "goldensets"),), runs=None, targets=None,
                                      mode=None, concurrency=None, timeout_s=None, worker=False, store="off",
                                      report="off"))
    try:
        plans = session.plans(session.load(root / "goldensets" / "s.yaml"))
        session.start([(p.case.id, p) for p in plans])
        runs = {p.case.id: session.wait(p.case.id, p) for p in plans}
    finally:
        session.close()
    failing = next(p for p in plans if p.case.id == "c")
    assert settle(failing, runs["c"]).status == "FAIL"
    held = settle(type(failing)(**{**failing.__dict__, "quarantine": "quarantined: flipped 4 times"}), runs["c"])
    assert held.status == "QUARANTINED" and not held.gating and held.reason.startswith("quarantined: flipped")
