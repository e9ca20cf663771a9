"""``goldband history``, ``show`` and ``report`` against a store with known runs (click's runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.cli.common import find_root, resolve_reports, resolve_store
from goldband.report.data import CROSS
from storefixtures import CaseSpec, demo_store, write_run

RUN = "20261103-120000-0003"


@pytest.fixture
def store_path(store_at: str) -> str:
    """The demo store, once per backend (an SQLite file, a PostgreSQL database's URL)."""
    demo_store(store_at).close()
    return store_at


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_history_lists_runs_newest_first(store_path: str) -> None:
    code, out = invoke("history", "--store", str(store_path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["run", "kind", "status", "started", "(UTC)", "took", "git", "golden", "sets", "PASS",
                                "FAIL", "INC", "ERR"]
    assert lines[1].split()[:3] == [RUN, "ci", "complete"] and lines[1].split()[-4:] == ["2", "1", "1", "1"]
    assert "main@01234567" in lines[1] and "extract@3, support@3" in lines[1] and len(lines) == 4
    code, out = invoke("history", "--store", str(store_path), "--limit", "1", "--json")
    data = json.loads(out)
    assert [r["id"] for r in data] == [RUN] and data[0]["verdicts"] == {"PASS": 2, "FAIL": 1, "INCONCLUSIVE": 1,
                                                                         "ERROR": 1}
    assert data[0]["goldensets"] == {"extract": "3", "support": "3"}
    assert invoke("history", "--store", str(store_path), "--kind", "nightly")[1].startswith("no runs match")


def test_history_filters_by_golden_set_version_kind_and_status(store_at: str) -> None:
    with demo_store(store_at, runs=2) as store:
        write_run(store, "20261104-020000-0004", "2026-11-04T02:00:00.000+00:00",
                  [CaseSpec("refund-window", "ppp"), CaseSpec("new-case", "pf", "FAIL")], kind="nightly",
                  version="4")
    path = store_at
    out = invoke("history", "--store", path)[1]
    assert out.splitlines()[1].split()[:2] == ["20261104-020000-0004", "nightly"] and " support@4 " in out
    assert [line.split()[0] for line in invoke("history", "--store", path, "--version", "3")[1].splitlines()[1:]] == [
        "20261102-120000-0002", "20261101-120000-0001"]
    only = invoke("history", "--store", path, "--goldenset", "support", "--version", "4", "--json")[1]
    assert [(r["id"], r["kind"], r["goldensets"]) for r in json.loads(only)] == [
        ("20261104-020000-0004", "nightly", {"support": "4"})]
    shown = invoke("history", "--store", path, "--goldenset", "support", "--kind", "ci")[1].splitlines()
    assert len(shown) == 3 and all(" support@3 " in line and "extract@" not in line for line in shown[1:])
    assert invoke("history", "--store", path, "--goldenset", "extract", "--version", "4")[1].startswith(
        "no runs match these filters")
    assert len(invoke("history", "--store", path, "--status", "complete")[1].splitlines()) == 4
    assert invoke("history", "--store", path, "--status", "running")[1].startswith("no runs match")


def test_history_of_one_case_shows_and_filters_the_version(store_at: str) -> None:
    with demo_store(store_at, runs=2) as store:
        write_run(store, "20261104-020000-0004", "2026-11-04T02:00:00.000+00:00",
                  [CaseSpec("refund-window", "ppp")], kind="nightly", version="4")
    path, case = store_at, "support::refund-window[support-v1]"
    lines = invoke("history", case, "--store", path)[1].splitlines()
    assert lines[1].split()[:3] == ["run", "kind", "version"]
    assert [line.split()[:3] for line in lines[2:5]] == [["20261104-020000-0004", "nightly", "4"],
                                                        ["20261102-120000-0002", "ci", "3"],
                                                        ["20261101-120000-0001", "ci", "3"]]
    data = json.loads(invoke("history", case, "--store", path, "--version", "4", "--json")[1])
    assert [(p["run_id"], p["version"]) for p in data["support-v1"]] == [("20261104-020000-0004", "4")]
    data = json.loads(invoke("history", case, "--store", path, "--kind", "ci", "--json")[1])
    assert [p["version"] for p in data["support-v1"]] == ["3", "3"]


def test_history_of_one_case_shows_its_trend(store_path: str) -> None:
    code, out = invoke("history", "support::express-shipping[support-v1]", "--store", str(store_path))
    assert code == 0
    assert out.startswith("support::express-shipping[support-v1]  pass rate ▄▄▄  (oldest → newest, 3 runs)")
    assert out.splitlines()[2].split() == [RUN, "ci", "3", "2026-11-03", "12:00:00", "FAIL", "2/5", "0.40", "[0.12,",
                                           "0.77]", "0.70"]
    code, out = invoke("history", "goldensets/support.yaml::support::express-shipping", "--store", str(store_path),
                       "--json")
    assert [p["status"] for p in json.loads(out)["support-v1"]] == ["FAIL"] * 3


def test_history_of_an_unknown_case_is_a_clear_error(store_path: str) -> None:
    code, out = invoke("history", "support::nope", "--store", str(store_path))
    assert code == 2 and "no verdicts for case 'support::nope'" in out and "Traceback" not in out
    code, out = invoke("history", "not-a-case", "--store", str(store_path))
    assert code == 2 and "expected SET::CASE or SET::CASE[TARGET]" in out


def test_show_lists_groups_and_the_cases_not_passing(store_path: str) -> None:
    code, out = invoke("show", "2026110", "--store", str(store_path))
    assert code == 2 and "ambiguous" in out
    code, out = invoke("show", "latest", "--store", str(store_path))
    assert code == 0
    assert out.startswith(f"run {RUN}  FAIL  (ci, complete)") and "  golden sets extract@3, support@3\n" in out
    assert invoke("show", "--store", str(store_path)) == (0, out)  # latest by default, as for `report`
    assert ["support", CROSS, "support-v1", "4", "1", "1", "1", "1", "0.73", "0.87", "20"] in [
        line.split() for line in out.splitlines()]
    assert "FAIL         support::express-shipping[support-v1]  pass rate 2/5" in out
    assert "refund-window" not in out
    assert "refund-window" in invoke("show", RUN, "--all", "--store", str(store_path))[1]
    data = json.loads(invoke("show", RUN, "--json", "--store", str(store_path))[1])
    assert data["run"]["id"] == RUN and len(data["cases"]) == 5


def test_unknown_run_and_missing_store_are_one_line_errors(store_path: str, tmp_path: Path) -> None:
    code, out = invoke("show", "19990101", "--store", str(store_path))
    assert code == 2 and out.startswith(f"Error: {store_path}: no run '19990101' in this store")
    assert "fix: list runs with `goldband history`" in out
    code, out = invoke("history", "--store", str(tmp_path / "none.db"))
    assert code == 2 and "no store here yet" in out and not (tmp_path / "none.db").exists()


def test_report_rerenders_a_past_run(store_path: str, tmp_path: Path) -> None:
    code, out = invoke("report", "20261101", "--store", str(store_path), "--out", str(tmp_path / "r"))
    assert code == 0
    assert out.splitlines() == [f"wrote {tmp_path / 'r' / '20261101-120000-0001' / n}"
                                for n in ("report.html", "summary.md", "report.json")]
    code, out = invoke("report", "--store", str(store_path), "--out", str(tmp_path / "r"), "--format", "md")
    assert code == 0 and out.strip().endswith(f"{RUN}/summary.md")
    code, out = invoke("report", "latest", "--store", str(store_path), "--format", "md", "--stdout")
    assert code == 0 and out.startswith(f"### goldband ❌ FAIL · run `{RUN}`")
    code, out = invoke("report", "latest", "--store", str(store_path), "--stdout")
    assert code == 2 and "add exactly one --format" in out


def test_store_and_reports_follow_the_plugin_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "goldband.yaml").write_text("store: data/results.db\nreports: out/\n")
    monkeypatch.chdir(project / "sub")
    for name in ("GOLDBAND_STORE", "GOLDBAND_REPORT"):
        monkeypatch.delenv(name, raising=False)
    assert find_root() == project
    assert resolve_store(None) == project / "data" / "results.db"
    assert resolve_reports(None) == project / "out"
    (project / "pytest.ini").write_text("[pytest]\ngoldband_store = ini.db\n")
    assert resolve_store(None) == project / "ini.db"
    monkeypatch.setenv("GOLDBAND_STORE", "env.db")
    assert resolve_store(None) == project / "env.db"
    assert resolve_store(Path("cli.db")) == Path("cli.db")
