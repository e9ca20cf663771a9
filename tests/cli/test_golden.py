"""``goldband golden candidates | accept | status`` on a copy of the bundled project and a real store."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldband.cli import main
from goldband.golden.goldenset import load
from goldband.store import open_store
from goldband.watch.tracelog import TraceLogger, record_feedback

QUESTIONS = ["Can I pay with a voucher from a store in Berlin?", "Why was my parcel sent to the wrong town?",
             "Is there a student discount on running shoes?", "Can I change the delivery address after ordering?",
             "Do the hiking boots come in half sizes?", "What is the warranty on leather soles?"]


def golden(*args: str) -> Any:
    return CliRunner().invoke(main, ["golden", *args])


def monitored(demo_project: Path, monkeypatch: pytest.MonkeyPatch, store: str | None = None) -> Path:
    """The bundled project with its support app monitored; ``store``: in goldband.yaml instead of its own."""
    config = demo_project / "goldband.yaml"
    if store is not None:
        config.write_text(config.read_text().replace("store: .goldband/store.db", f"store: {store}"))
    with config.open("a") as f:
        f.write("\nmonitors:\n  llm:\n    support:\n      golden_set: goldensets/support.yaml\n")
    monkeypatch.chdir(demo_project)
    return demo_project


@pytest.fixture
def project(demo_project: Path, monkeypatch: pytest.MonkeyPatch, store_at: str) -> Path:
    """Once per backend: the project's own SQLite file, or a PostgreSQL database named in goldband.yaml."""
    return monitored(demo_project, monkeypatch, store_at if store_at.startswith("postgresql://") else None)


@pytest.fixture
def sqlite_project(demo_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return monitored(demo_project, monkeypatch)


def store_of(root: Path) -> Path:
    """The project's store: its SQLite file, or a PostgreSQL URL (as a Path folds it: open_store takes either)."""
    text = (root / "goldband.yaml").read_text()
    found = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("store:")]
    return Path(found[0]) if found and found[0].startswith("postgresql:") else \
        root / (found[0] if found else ".goldband/store.db")


def log(root: Path, questions: list[str], answers: list[str] | None = None) -> list[str]:
    with TraceLogger("support", store=store_of(root), version="3") as logger:
        ids = [logger.log({"question": q}, (answers or ["Sorry, no idea."] * len(questions))[i], trace_id=f"t{i}")
               for i, q in enumerate(questions)]
    return [str(i) for i in ids]


def test_candidates_from_negative_feedback_then_accept_bumps_the_version(project: Path) -> None:
    store = store_of(project)
    questions = [*QUESTIONS[:3], "Can I return shoes after 40 days??"]  # the last one is already a case
    ids = log(project, questions)
    for tid in ids:
        record_feedback(store, "support", tid, thumbs="down")
    record_feedback(store, "support", ids[0], correction="Yes: vouchers from any of our stores are accepted.")
    record_feedback(store, "support", ids[1], thumbs="up")  # the latest thumbs wins: no longer negative
    result = golden("candidates", "goldensets/support.yaml", "--from", "production", "--where",
                    "feedback=negative", "--out", "review.yaml")
    assert result.exit_code == 0, result.output
    assert "2 candidate(s) for support v3 written to review.yaml (3 matched; 1 dropped as near-duplicates at " \
           "threshold 90)" in result.output
    assert "duplicate of case refund-window" in result.output
    review = yaml.safe_load((project / "review.yaml").read_text())
    by_input = {c["input"]["question"]: c for c in review["candidates"]}
    voucher = by_input[QUESTIONS[0]]
    assert voucher["reference"] == "Yes: vouchers from any of our stores are accepted."
    assert voucher["output"] == "Sorry, no idea." and voucher["provenance"]["source"] == "production"
    assert voucher["provenance"]["version"] == "3" and voucher["provenance"]["ref"] == f"support:{ids[0]}"
    assert review["selection"]["where"] == "feedback=negative" and review["selection"]["threshold"] == 90
    before = (project / "goldensets" / "support.yaml").read_text()
    text = (project / "review.yaml").read_text().replace("accept: false", "accept: true")
    (project / "review.yaml").write_text(text)
    accepted = golden("accept", "review.yaml")
    assert accepted.exit_code == 0, accepted.output
    assert "support: version 3 -> 4, added 2 case(s)" in accepted.output
    after = (project / "goldensets" / "support.yaml").read_text()
    assert after.startswith(before.split("\nversion: 3\n")[0]) and "\nversion: 4\n" in after
    reloaded = load(project / "goldensets" / "support.yaml", base_dir=project)
    assert reloaded.version == "4" and {QUESTIONS[0], QUESTIONS[2]} <= {c.input["question"] for c in
                                                                        reloaded.cases}  # type: ignore[index]
    assert "'4': sha256:" in (project / "goldensets" / "support.lock").read_text()
    again = golden("candidates", "goldensets/support.yaml", "--from", "production", "--where", "feedback=negative",
                   "--out", "review2.yaml")
    assert "0 candidate(s)" in again.output and "3 dropped as near-duplicates" in again.output


def test_candidates_from_one_environments_traces(project: Path) -> None:
    """Staging's test traffic is not a source of real failures: --environment production picks production's."""
    with TraceLogger("support", store=store_of(project), version="3", environment="staging") as logger:
        logger.log({"question": QUESTIONS[0]}, "Sorry, no idea.", trace_id="s0")
    with TraceLogger("support", store=store_of(project), version="3", environment="production") as logger:
        logger.log({"question": QUESTIONS[1]}, "Sorry, no idea.", trace_id="p0")
    result = golden("candidates", "goldensets/support.yaml", "--from", "production", "--environment", "production",
                    "--out", "review.yaml")
    assert result.exit_code == 0, result.output
    review = yaml.safe_load((project / "review.yaml").read_text())
    assert [c["input"]["question"] for c in review["candidates"]] == [QUESTIONS[1]]
    assert review["selection"]["environment"] == "production"
    every = golden("candidates", "goldensets/support.yaml", "--from", "production", "--out", "every.yaml")
    assert every.exit_code == 0, every.output
    assert len(yaml.safe_load((project / "every.yaml").read_text())["candidates"]) == 2
    stray = golden("candidates", "goldensets/support.yaml", "--from-file", "x.jsonl", "--environment", "staging")
    assert stray.exit_code == 2 and "--environment selects production traces" in stray.output


def test_an_edited_review_with_a_bad_case_writes_nothing(project: Path) -> None:
    ids = log(project, QUESTIONS[:2])
    record_feedback(store_of(project), "support", ids[0], thumbs="down")
    assert golden("candidates", "goldensets/support.yaml", "--from", "production", "--where", "feedback=negative",
                  "--out", "review.yaml").exit_code == 0
    text = (project / "review.yaml").read_text().replace("accept: false", "accept: true")
    text = text.replace("  checks: []", "  checks:\n  - containz: x")
    (project / "review.yaml").write_text(text)
    files = {p: p.read_bytes() for p in (project / "goldensets").iterdir()}
    result = golden("accept", "review.yaml")
    assert result.exit_code != 0 and "review.yaml:" in result.output and "containz" in result.output
    assert {p: p.read_bytes() for p in (project / "goldensets").iterdir()} == files


def test_bad_where_and_missing_sources_are_clear_errors(project: Path) -> None:
    log(project, QUESTIONS[:1])
    bad = golden("candidates", "goldensets/support.yaml", "--from", "production", "--where", "judge_scor<3")
    assert bad.exit_code != 0 and "judge_scor" in bad.output and "judge_score" in bad.output
    none = golden("candidates", "goldensets/support.yaml")
    assert none.exit_code != 0 and "give exactly one source" in none.output
    run = golden("candidates", "goldensets/support.yaml", "--from-run", "nope")
    assert run.exit_code != 0 and "no run 'nope' in the store" in run.output


def test_candidates_from_a_file_of_hand_caught_failures(project: Path) -> None:
    (project / "caught.jsonl").write_text(json.dumps({"input": {"question": QUESTIONS[4]}, "output": "No.",
                                                      "reference": "Yes, in half sizes from 38.", "note": "INC-12"})
                                          + "\n" + json.dumps({"inputs": {"question": "x"}}) + "\n")
    result = golden("candidates", "goldensets/support.yaml", "--from-file", "caught.jsonl", "--out", "r.yaml")
    assert result.exit_code != 0 and "caught.jsonl:2" in result.output and "did you mean 'input'?" in result.output
    (project / "caught.jsonl").write_text((project / "caught.jsonl").read_text().splitlines()[0] + "\n")
    ok = golden("candidates", "goldensets/support.yaml", "--from-file", "caught.jsonl", "--out", "r.yaml")
    assert ok.exit_code == 0, ok.output
    (candidate,) = yaml.safe_load((project / "r.yaml").read_text())["candidates"]
    assert candidate["provenance"]["source"] == "failure" and candidate["provenance"]["note"] == "INC-12"
    assert candidate["reference"] == "Yes, in half sizes from 38."


def test_status_reports_sources_and_flags_a_set_that_no_longer_looks_like_production(project: Path) -> None:
    rng = random.Random(5)
    cases = "".join(f"  - id: q{i}\n    input: {{question: {json.dumps(rng.choice(QUESTIONS))}}}\n"
                    + ("    provenance: {source: production, added: '2026-11-01'}\n" if i % 3 == 0 else "")
                    for i in range(30))
    (project / "goldensets" / "faq.yaml").write_text(f"name: faq\nversion: 1\ntargets: [support-v1]\ndefaults:\n"
                                                     f"  runs: 3\n  checks:\n    - length: {{max: 400}}\ncases:\n"
                                                     f"{cases}")
    long_questions = [" ".join(rng.choice(QUESTIONS) for _ in range(4)) + f" order NW-{rng.randint(1000, 9999)}"
                      for _ in range(300)]
    log(project, long_questions, ["ok"] * len(long_questions))
    result = golden("status", "goldensets/faq.yaml", "--app", "support", "--fail-on-alert", "warning")
    assert result.exit_code == 6, result.output
    assert "faq v1: 30 case(s)" in result.output
    assert "where they came from: hand-written 20 (67%), production 10 (33%)" in result.output
    assert "DRIFT characters" in result.output and "DRIFT tokens" in result.output
    with open_store(store_of(project), create=False) as store:
        (rule, metric), = store.conn.execute("SELECT rule, metric FROM alerts").fetchall()
    assert (rule, metric) == ("llm-production", "golden_staleness")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(QUESTIONS), min_size=1, max_size=6, unique=True), st.integers(0, 10_000))
def test_accepted_cases_are_never_proposed_again(sqlite_project: Path, picked: list[str], salt: int) -> None:
    """Accept a review, re-run candidates over the same traces: none of the accepted inputs comes back.
    SQLite only: each example starts from a fresh store file (a deleted file; the other backend is covered
    by the tests above)."""
    project = sqlite_project
    store = store_of(project)
    for old in [store, *store.parent.glob(store.name + "-*")]:
        old.unlink(missing_ok=True)
    for name in ("support.yaml", "support.lock"):
        (project / "goldensets" / name).write_bytes(Path(__file__).parents[2].joinpath("goldensets", name)
                                                    .read_bytes())
    questions = [f"{q} (ref {salt})" for q in picked]
    for tid in log(project, questions):
        record_feedback(store, "support", tid, thumbs="down")
    assert golden("candidates", "goldensets/support.yaml", "--from", "production", "--where", "feedback=negative",
                  "--out", "r1.yaml").exit_code == 0
    (project / "r1.yaml").write_text((project / "r1.yaml").read_text().replace("accept: false", "accept: true"))
    accepted = yaml.safe_load((project / "r1.yaml").read_text())["candidates"]
    assert golden("accept", "r1.yaml").exit_code == 0
    assert golden("candidates", "goldensets/support.yaml", "--from", "production", "--where", "feedback=negative",
                  "--out", "r2.yaml").exit_code == 0
    again = yaml.safe_load((project / "r2.yaml").read_text())["candidates"] or []
    assert not {json.dumps(c["input"]) for c in accepted} & {json.dumps(c["input"]) for c in again}


def test_candidates_from_a_runs_failing_trials(tmp_path: Path, openai_server: Any, store_at: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from judgekit import project as judge_project
    from judgekit import run

    judge_project(tmp_path, openai_server.url, cases=2, runs=2, checks="      - contains: '30 days'\n")
    openai_server.add_rule(contains="q0", replies=["Returns within 60 days."])  # c0 fails its check
    openai_server.add_rule(contains="q1", replies=["Returns within 30 days."])
    (tmp_path / "goldensets" / "other.yaml").write_text(
        "name: other\nversion: 1\ntargets: [t]\ndefaults:\n  runs: 1\ncases:\n"
        "  - id: shipping\n    input: {question: Do you ship to Oslo and how long does it take?}\n"
        "    checks:\n      - contains: days\n")
    run(tmp_path, store=store_at)
    with open_store(store_at, create=False) as store:
        (run_id,) = store.conn.execute("SELECT id FROM runs").fetchone()
    monkeypatch.chdir(tmp_path)
    result = golden("candidates", "goldensets/other.yaml", "--from-run", run_id, "--out", "r.yaml", "--store",
                    store_at)
    assert result.exit_code == 0, result.output
    (candidate,) = yaml.safe_load((tmp_path / "r.yaml").read_text())["candidates"]
    assert candidate["input"] == {"question": "q0"} and candidate["output"] == "Returns within 60 days."
    provenance = candidate["provenance"]
    assert provenance["source"] == "failure" and provenance["ref"].startswith(f"run {run_id}: s/c0[t]")
    assert provenance["note"].startswith("fail: ") and "30 days" in provenance["note"]


def test_status_compares_embeddings_through_litellm_when_configured(project: Path, openai_server: Any) -> None:
    rng = random.Random(6)
    cases = "".join(f"  - id: q{i}\n    input: {{question: {json.dumps(rng.choice(QUESTIONS))}}}\n" for i in range(30))
    (project / "goldensets" / "faq.yaml").write_text(
        f"name: faq\nversion: 1\ntargets: [support-v1]\ndefaults:\n  runs: 3\n  checks:\n    - length: {{max: 400}}\n"
        f"cases:\n{cases}")
    with (project / "goldband.yaml").open("a") as f:
        f.write(f"    faq-app:\n      golden_set: goldensets/faq.yaml\n      embedding_model: openai/emb\n"
                f"      embedding_api_base: {openai_server.url}\n")
    with TraceLogger("faq-app", store=store_of(project)) as logger:
        for i in range(60):
            logger.log({"question": rng.choice(QUESTIONS)}, "ok", trace_id=f"f{i}")
    # a real process: litellm's clients and loops stay out of this test process (and out of later tests)
    done = subprocess.run([sys.executable, "-m", "goldband", "golden", "status", "goldensets/faq.yaml"], cwd=project,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "embedding" in done.stdout and "DRIFT" not in done.stdout
    assert sum("/embeddings" in r.path for r in openai_server.requests) >= 2
