"""pytest-xdist keeps goldband's concurrency: a worker starts its whole share of golden items at once."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from goldband.plugin.xdist import golden_only, is_golden, shares, units
from tests.session.test_recorder import goldenset, make_project, run_xdist

APP = '''
import os, threading, time

_lock, _now = threading.Lock(), [0]

def answer(inp):
    """Logs ``pid in-flight`` at every call start, so a test can see how many calls a worker overlaps."""
    with _lock:
        _now[0] += 1
        with open(os.environ["FLIGHT_LOG"], "a") as f:
            f.write(f"{os.getpid()} {_now[0]}\\n")
    time.sleep(0.3)
    with _lock:
        _now[0] -= 1
    return "Returns are accepted within 30 days."
'''
CONFIG = "concurrency: 8\ntargets:\n  app:\n    callable: app:answer\n"


def test_shares_are_contiguous_balanced_and_leave_other_tests_alone() -> None:
    ids = [f"g.yaml::s::c{i}" for i in range(7)] + ["tests/test_x.py::test_y"]
    found = shares(ids, 3)
    assert "tests/test_x.py::test_y" not in found
    assert [found[f"g.yaml::s::c{i}"] for i in range(7)] == [0, 0, 0, 1, 1, 2, 2]
    assert set(units(ids, 3, "loadfile").values()) == {"g.yaml"}
    assert units(ids, 3, "worksteal")["g.yaml::s::c1"] == "g.yaml::s::c1"
    assert is_golden("sets/a.yml::a::b[t]") and not is_golden("t.py::test_yaml")


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("FLIGHT_LOG", str(pytester.path / "flight.log"))
    p = make_project(pytester, monkeypatch, goldenset(16, 1), app=APP)
    p.makefile(".yaml", goldband=CONFIG)
    return p


def flights(path: Path) -> dict[str, int]:
    most: dict[str, int] = defaultdict(int)
    for line in path.read_text().splitlines():
        pid, now = line.split()
        most[pid] = max(most[pid], int(now))
    return dict(most)


def test_each_worker_keeps_its_share_of_the_concurrency_in_flight(project: pytest.Pytester) -> None:
    result = run_xdist(project, "-n", "2")
    result.assert_outcomes(passed=16)
    most = flights(project.path / "flight.log")
    assert len(most) == 2  # both workers ran golden items
    assert all(3 <= n <= 4 for n in most.values()), most  # 8 split in two; one at a time before (issue 14)


def test_a_mode_that_moves_single_items_says_so(project: pytest.Pytester) -> None:
    result = run_xdist(project, "-n", "2", "--dist", "worksteal")
    result.assert_outcomes(passed=16)
    assert "--dist worksteal hands golden items to workers one at a time" in result.stdout.str()


def test_golden_sets_alone_run_in_one_process_and_the_run_says_why(project: pytest.Pytester) -> None:
    result = run_xdist(project, "-n", "2", "goldensets")
    result.assert_outcomes(passed=16)
    assert "goldband: -n 2 set aside: every path selected holds golden sets only" in result.stdout.str()
    (most,) = flights(project.path / "flight.log").values()  # one process ...
    assert most > 4  # ... with more in flight than a worker's half of the concurrency
    (project.path / "flight.log").unlink()
    kept = run_xdist(project, "-n", "2", "goldensets", "--goldband-xdist", "use")
    kept.assert_outcomes(passed=16)
    assert "set aside" not in kept.stdout.str() and len(flights(project.path / "flight.log")) == 2


def test_only_paths_inside_the_golden_set_folders_without_python_are_golden_only(tmp_path: Path) -> None:
    sets = tmp_path / "goldensets"
    (sets / "more").mkdir(parents=True)
    (sets / "a.yaml").write_text("name: a\n")
    paths = [str(sets)]
    assert golden_only(["goldensets"], tmp_path, paths)
    assert golden_only(["goldensets/a.yaml::a::case[t]", "goldensets/more"], tmp_path, paths)
    assert not golden_only([], tmp_path, paths)  # pytest's rootdir: the tests beside them too
    assert not golden_only(["."], tmp_path, paths) and not golden_only(["goldensets", "tests"], tmp_path, paths)
    (sets / "more" / "conftest.py").write_text("")
    assert not golden_only(["goldensets"], tmp_path, paths)  # Python in there: it may collect tests
    assert golden_only(["goldensets/a.yaml"], tmp_path, paths)
