"""Sharded CI runs (issue 12): K jobs each run a deterministic, trial-balanced share of the golden items into one
run id; the last to finish (or ``goldband run --finalize RUN``) finalizes the run as one unsharded run would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldband.config.settings import shard as parse_shard
from goldband.errors import ConfigError, OptionError
from goldband.session import shards
from goldband.store import open_store
from tests.session.test_recorder import goldenset, make_project, run, run_xdist

KEYS = st.tuples(st.sampled_from(["support", "billing"]), st.text("abc0123", min_size=1, max_size=6),
                 st.sampled_from(["app", "gpt"]))
ITEMS = st.dictionaries(KEYS, st.integers(min_value=1, max_value=40), max_size=60).map(lambda d: list(d.items()))


@given(ITEMS, st.integers(min_value=1, max_value=8))
@settings(max_examples=200, deadline=None)
def test_shares_partition_the_items_and_balance_their_trials(items: list[tuple[Any, int]], total: int) -> None:
    shares = [shards.selected(items, (i, total)) for i in range(1, total + 1)]
    assert [sum(s[n] for s in shares) for n in range(len(items))] == [1] * len(items)  # each item exactly once
    loads = [sum(w for (_, w), keep in zip(items, s, strict=True) if keep) for s in shares]
    assert sum(loads) == sum(w for _, w in items)
    assert max(loads) - min(loads) <= max((w for _, w in items), default=0)  # greedy LPT's bound


@given(ITEMS, st.integers(min_value=1, max_value=5), st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_the_assignment_does_not_depend_on_the_collection_order(items: list[tuple[Any, int]], total: int,
                                                                random: Any) -> None:
    shuffled = list(items)
    random.shuffle(shuffled)
    assert dict(zip(items, shards.assign(items, total), strict=True)) == dict(
        zip(shuffled, shards.assign(shuffled, total), strict=True))


PINNED = [(("support", f"c{i:02d}", "app"), 1 + i % 3) for i in range(8)]


def test_the_assignment_is_the_same_in_every_process() -> None:
    """Another interpreter with another hash seed computes the same shares (no builtin hash())."""
    code = ("from goldband.session.shards import assign; "
            f"print(assign({PINNED!r}, 3))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(shards.assign(PINNED, 3))
    loads: Counter[int] = Counter()
    for (_, w), s in zip(PINNED, shards.assign(PINNED, 3), strict=True):
        loads[s] += w
    assert sorted(loads) == [1, 2, 3] and max(loads.values()) - min(loads.values()) <= 3


@pytest.mark.parametrize("spec", ["3/2", "0/2", "a/b", "1/0", "2", "-1/2", ""])
def test_bad_shard_specs_are_refused_with_the_fix(spec: str) -> None:
    with pytest.raises(OptionError, match=r"expected SHARD/TOTAL .*fix: .*--goldband-shard 1/4"):
        parse_shard(spec)


def test_good_shard_specs() -> None:
    assert parse_shard("1/4") == (1, 4) and parse_shard(" 4 / 4 ") == (4, 4) and parse_shard("1/1") == (1, 1)


def test_the_run_id_comes_from_github_actions_or_is_required() -> None:
    env = {"GITHUB_RUN_ID": "987654", "GITHUB_RUN_ATTEMPT": "2"}
    assert shards.shard_run_id(None, (1, 4), env) == "gh-987654-2"
    assert shards.shard_run_id("nightly-7", (1, 4), env) == "nightly-7"
    assert shards.shard_run_id(None, None, env) is None  # unsharded: a new run id, as always
    with pytest.raises(ConfigError, match="--goldband-run-id"):
        shards.shard_run_id(None, (2, 4), {})


def golden(cases: int) -> str:
    """Cases of 1 to 3 runs (the shards balance trials, not items); every fifth case fails; a set gate (over the
    whole run's cases, so computed by the shard that finalizes) that 11 of 14 passing cases fail."""
    body = "".join(f"  - id: c{i:02d}\n    runs: {1 + i % 3}\n"
                   f"    input: {{question: q{i}{', bad: true' if i % 5 == 3 else ''}}}\n" for i in range(cases))
    return ("name: support\nversion: 1\ntargets: [app]\nband:\n  set: {min_pass_rate: 0.95, confidence: 0.9}\n"
            "defaults:\n  runs: 2\n"
            f"  checks:\n    - contains: '30 days'\ncases:\n{body}")


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("GOLDBAND_SHARD", "GOLDBAND_RUN_ID", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"):
        monkeypatch.delenv(name, raising=False)
    return make_project(pytester, monkeypatch, golden(14))


def results(store_at: str | Path, run_id: str) -> dict[str, Any]:
    """What a run must have alike, sharded or not: verdicts, series points, counts, the report's counts."""
    with open_store(store_at, create=False) as store:
        run = store.run(run_id)
        assert run is not None
        verdicts = {k: (v.verdict.status, v.verdict.n, v.verdict.passes) for k, v in store.verdicts(run_id).items()}
        series = sorted(store.conn.execute(  # latencies are measured, so they differ between any two runs
            "SELECT source, metric, labels_key, value FROM series_points WHERE run_id = ? "
            "AND metric NOT LIKE 'latency%'", [run_id]).fetchall())
        trials = store.conn.execute("SELECT COUNT(*) FROM trials WHERE run_id = ?", [run_id]).fetchone()[0]
        items = len(store.run_items(run_id))
        counts = store.verdict_counts(run_id)
    return {"status": run.status, "exit": run.exit_status, "verdicts": verdicts, "series": series,
            "trials": trials, "items": items, "counts": counts}


def pytest_argv(*args: str) -> list[str]:
    """A pytest of its own (a shard is a CI job), as ``run`` runs it in-process."""
    return [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", *args]


def run_at_once(project: pytest.Pytester, argvs: list[list[str]]) -> list[tuple[int, str, str]]:
    """Start every command, then wait for all: the shards of a CI matrix against one shared server.
    (exit status, stdout, stderr) of each; PGPASSFILE reaches them through the environment."""
    procs = [project.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
             for argv in argvs]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        done.append((proc.returncode, out.decode(), err.decode()))
    return done


def shards_of(project: pytest.Pytester, store_at: str, total: int, run_id: str, *extra: str) -> list[str]:
    """Run shards 1/K..K/K of ``run_id``: one after another in-process on SQLite (its file lock serializes the
    writers anyway), all at once in K processes on PostgreSQL; each shard's stdout, in shard order."""
    args = [["--goldband-shard", f"{i}/{total}", "--goldband-run-id", run_id, f"--goldband-store={store_at}", *extra]
            for i in range(1, total + 1)]  # one argument: pytest would take an existing file's folder as its rootdir
    if not store_at.startswith("postgresql:"):
        return [run(project, *a).stdout.str() for a in args]
    done = run_at_once(project, [pytest_argv(*a) for a in args])
    for code, out, err in done:
        assert code in (0, 1), out + err
    return [out for _, out, _ in done]


def outcomes_of(stdout: str) -> Counter[str]:
    """pytest's closing line ("3 failed, 11 passed, 42 deselected in 1.2s") as counts."""
    line = [ln for ln in stdout.splitlines() if " in " in ln and ("passed" in ln or "failed" in ln
                                                                   or "deselected" in ln)][-1]
    found: Counter[str] = Counter()
    for n, word in re.findall(r"(\d+) (passed|failed|deselected|error)", line):
        found[word] += int(n)
    return found


def test_four_shards_record_one_run_like_an_unsharded_run(project: pytest.Pytester, store_at: str) -> None:
    """4 shards + finalize equal one unsharded run on the same cassettes: verdicts, series points, counts and
    the report's counts; on PostgreSQL the 4 shards run at once in 4 processes, as a CI matrix does."""
    whole = run(project, "--goldband-run-id", "whole", f"--goldband-store={store_at}")
    whole.assert_outcomes(passed=11, failed=3)
    expected = results(store_at, "whole")
    outs = shards_of(project, store_at, 4, "ci-42", "--goldband-report", "sharded")
    outcomes: Counter[str] = sum((outcomes_of(out) for out in outs), Counter())
    assert outcomes["passed"] == 11 and outcomes["failed"] == 3 and outcomes["deselected"] == 3 * 14
    finalized = [i for i, out in enumerate(outs, 1) if "run ci-42 complete" in out]
    assert len(finalized) == 1, outs  # exactly one shard (the last to finish) finalized the run
    for i, out in enumerate(outs, 1):
        if i not in finalized:
            assert f"shard {i}/4 of run ci-42 recorded; waiting for shard" in out
    stored = results(store_at, "ci-42")
    assert stored == expected
    assert ("set_cases", 14.0) in {(m, v) for _, m, _, v in stored["series"]}  # the set gate saw every shard's cases
    whole_report = json.loads((project.path / "reports" / "whole" / "report.json").read_text())
    sharded_report = json.loads((project.path / "sharded" / "ci-42" / "report.json").read_text())
    assert sharded_report["counts"] == whole_report["counts"]
    with open_store(store_at, create=False) as store:
        rows = store.run_shards("ci-42")
    assert [r["shard"] for r in rows] == [1, 2, 3, 4] and sum(r["items"] for r in rows) == 14
    trials = [sum(1 + i % 3 for i in range(14) if f"c{i:02d}" in _items(project, r["shard"])) for r in rows]
    assert max(trials) - min(trials) <= 3


def _items(project: pytest.Pytester, shard: int) -> set[str]:
    """The case ids a shard selected, by its own hash: what ``--goldband-shard`` keeps."""
    items = [(("support", f"c{i:02d}", "app"), 1 + i % 3) for i in range(14)]
    return {key[1] for (key, _), keep in zip(items, shards.selected(items, (shard, 4)), strict=True) if keep}


def finalize_cli(project: pytest.Pytester, run_id: str, store: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "goldband", "run", "--finalize", run_id, "--store", store],
                          cwd=project.path, capture_output=True, text=True, env={**os.environ, "CI": ""})


def test_goldband_run_finalize_finishes_a_run_whose_last_shard_did_not(project: pytest.Pytester) -> None:
    for i in (1, 2):
        run(project, "--goldband-shard", f"{i}/3", "--goldband-run-id", "r1", "--goldband-store", "s.db")
    early = finalize_cli(project, "r1", "s.db")  # shard 3 never ran: the run is incomplete, its items missing
    assert early.returncode == 3 and "run r1 incomplete" in early.stdout, early.stderr
    assert "waiting for shard 3 of 3" in early.stderr
    run(project, "--goldband-shard", "3/3", "--goldband-run-id", "r1", "--goldband-store", "s.db")
    first = finalize_cli(project, "r1", "s.db")
    done = results(project.path / "s.db", "r1")
    second = subprocess.run(  # idempotent: the same run, series points and reports; the subcommand form
        [sys.executable, "-m", "goldband", "run", "finalize", "r1", "--store", "s.db"], cwd=project.path,
        capture_output=True, text=True, env={**os.environ, "CI": ""})
    assert first.returncode == second.returncode == 1  # the failing cases' shard exited 1
    assert "run r1 complete: 3 FAIL, 11 PASS" in first.stdout, first.stderr
    assert first.stdout == second.stdout
    assert results(project.path / "s.db", "r1") == done
    assert done["status"] == "complete" and done["items"] == 14 and len(done["series"]) > 0


def test_unknown_run_to_finalize_is_one_clear_error(project: pytest.Pytester) -> None:
    run(project, "--goldband-store", "s.db")
    result = finalize_cli(project, "nope", "s.db")
    assert result.returncode == 2 and "nope" in result.stderr and "Traceback" not in result.stderr


def test_bad_shard_options_are_one_usage_error(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(project, "--goldband-shard", "3/2", "--goldband-run-id", "x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--goldband-shard*expected SHARD/TOTAL*found '3/2'*fix*"])
    monkeypatch.setenv("GOLDBAND_SHARD", "a/b")
    result = run(project, "--goldband-run-id", "x")
    result.stderr.fnmatch_lines(["*environment variable GOLDBAND_SHARD*found 'a/b'*"])
    monkeypatch.delenv("GOLDBAND_SHARD")
    result = run(project, "--goldband-shard", "1/2")  # no run id, not on GitHub Actions
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--goldband-shard: --goldband-shard 1/2 without a run id*fix: give every shard*"])
    result = run(project, "--goldband-run-id", "bad id!")
    result.stderr.fnmatch_lines(["*--goldband-run-id*expected a run id of letters*found 'bad id!'*"])
    assert not (project.path / ".goldband" / "store.db").exists()  # nothing written


def test_shards_of_one_run_must_agree_on_k_and_an_unsharded_run_id_is_new(project: pytest.Pytester) -> None:
    run(project, "--goldband-shard", "1/2", "--goldband-run-id", "r2")
    result = run(project, "--goldband-shard", "2/3", "--goldband-run-id", "r2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*shard 2/3 joins run r2, whose other shards count 2*same number of shards*"])
    result = run(project, "--goldband-run-id", "r2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--goldband-run-id: run r2 exists already*--goldband-resume r2*"])


def test_a_shard_with_no_items_still_counts(project: pytest.Pytester) -> None:
    (project.path / "goldensets" / "support.yaml").write_text(golden(2))
    codes = [run(project, "--goldband-shard", f"{i}/3", "--goldband-run-id", "r3").ret for i in (1, 2, 3)]
    assert pytest.ExitCode.NO_TESTS_COLLECTED not in codes
    with open_store(project.path / ".goldband" / "store.db", create=False) as store:
        assert sorted(r["items"] for r in store.run_shards("r3")) == [0, 1, 1]
        run_row = store.run("r3")
        assert run_row is not None and run_row.status == "complete"


def test_a_shard_runs_under_xdist_too(project: pytest.Pytester) -> None:
    """Each shard's xdist workers record its items; the controller finishes the shard (and the last, the run)."""
    (project.path / "goldensets" / "support.yaml").write_text(golden(6))
    first = run_xdist(project, "-n", "1", "--goldband-xdist", "use", "--goldband-shard", "1/2",
                      "--goldband-run-id", "rx")
    first.stdout.fnmatch_lines(["*shard 1/2 of run rx recorded; waiting for shard 2 of 2*"])
    second = run(project, "--goldband-shard", "2/2", "--goldband-run-id", "rx")
    ran = [sum(r.parseoutcomes().get(k, 0) for k in ("passed", "failed")) for r in (first, second)]
    assert sum(ran) == 6 and second.parseoutcomes()["deselected"] == ran[0]
    second.stdout.fnmatch_lines(["*run rx complete*"])
    assert results(project.path / ".goldband" / "store.db", "rx")["items"] == 6


def test_per_shard_stores_merged_then_finalized_equal_an_unsharded_run(project: pytest.Pytester) -> None:
    """Without a shared store: each shard writes its own SQLite file, ``goldband store merge`` (issue 12) joins
    them, and ``goldband run --finalize`` finishes the run over the merged store."""
    run(project, "--goldband-run-id", "whole", "--goldband-store", "whole.db", "--goldband-report", "off")
    for i in (1, 2):
        result = run(project, "--goldband-shard", f"{i}/2", "--goldband-run-id", "m1", "--goldband-store",
                     f"shard-{i}.db", "--goldband-report", "off")
        result.stdout.fnmatch_lines([f"*shard {i}/2 of run m1 recorded; waiting for shard {3 - i} of 2*"])
    merge = subprocess.run([sys.executable, "-m", "goldband", "store", "merge", "shard-1.db", "shard-2.db",
                            "--into", "merged.db"], cwd=project.path, capture_output=True, text=True)
    assert merge.returncode == 0, merge.stderr
    done = finalize_cli(project, "m1", "merged.db")
    assert done.returncode == 1 and "run m1 complete: 3 FAIL, 11 PASS" in done.stdout, done.stderr
    assert results(project.path / "merged.db", "m1") == results(project.path / "whole.db", "whole")


def baseline_outcomes(store_at: str, run_id: str) -> dict[Any, Any]:
    """Each case's baseline comparison as stored, in the verdict and in its ``baseline_*`` columns."""
    with open_store(store_at, create=False) as store:
        deltas = {k: v.verdict.baseline for k, v in store.verdicts(run_id).items()}
        columns = {(g, c, t): rest for g, c, t, *rest in store.conn.execute(
            "SELECT goldenset, case_id, target, baseline_outcome, baseline_run, baseline_delta, baseline_p_adjusted "
            "FROM verdicts WHERE run_id = ?", [run_id]).fetchall()}
    assert all(d is not None for d in deltas.values())
    assert columns == {k: [d.outcome, d.baseline_run, d.delta, d.p_adjusted] for k, d in deltas.items() if d}
    return deltas


def test_a_sharded_run_is_compared_with_its_baseline_over_all_shards_like_an_unsharded_run(
        project: pytest.Pytester, store_at: str) -> None:
    """The finalizer compares all the run's cases with the baseline in one Benjamini-Hochberg family (not each
    shard its own): every case's baseline outcome, delta and adjusted p equal the unsharded run's, and the run
    fails on its regressions. ``latest`` is the baseline the shards started with, pinned in the run."""
    golden = project.path / "goldensets" / "support.yaml"
    golden.write_text(goldenset(12, 6, version=1))
    run(project, "--goldband-run-id", "base", f"--goldband-store={store_at}").assert_outcomes(passed=12)
    golden.write_text(goldenset(12, 6, version=2, bad=(2, 5, 9)))  # c02 and c09 share shard 1 of 3: in a family of
    # that shard's 4 cases BH would multiply their p by 4/2, in the run's 12 cases (as unsharded) by 12/3
    outs = shards_of(project, store_at, 3, "ci-7", "--goldband-baseline", "latest")
    finalizer = [out for out in outs if "run ci-7 complete" in out]
    assert len(finalizer) == 1 and "3 regressed" in finalizer[0], outs  # the run's comparison, shown once
    assert not any("regressed" in out for out in outs if out not in finalizer)  # no shard compared its own
    whole = run(project, "--goldband-run-id", "whole", f"--goldband-store={store_at}", "--goldband-baseline", "base")
    assert whole.ret == 1
    expected = baseline_outcomes(store_at, "whole")
    assert [d.outcome for d in expected.values()].count("regressed") == 3
    assert baseline_outcomes(store_at, "ci-7") == expected
    with open_store(store_at, create=False) as store:
        sharded, unsharded = store.run("ci-7"), store.run("whole")
    assert sharded is not None and unsharded is not None
    assert sharded.settings["baseline"] == "base"  # `latest` as the shards found it
    assert (sharded.status, sharded.exit_status) == (unsharded.status, unsharded.exit_status) == ("complete", 1)
    again = finalize_cli(project, "ci-7", store_at)  # finalizing again compares again: the same outcomes
    assert again.returncode == 1, again.stderr
    assert baseline_outcomes(store_at, "ci-7") == expected
