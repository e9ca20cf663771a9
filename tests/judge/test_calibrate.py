"""Calibration: labelled rows (bad rows named by file:line), agreement, its record, and the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.errors import ConfigError
from goldband.judge import calibrate as cal
from goldband.judge.gate import gate_for, ungated_reason
from goldband.judge.rubric import Rubric, load_file
from goldband.store import open_store
from goldband.testing import FakeOpenAI
from judgekit import RUBRIC, judge_requests, project, reply

CALIBRATED = RUBRIC + "calibration: helpful.calibration.jsonl\nagreement_floor: {kappa: 0.6, accuracy: 0.8}\n"
ROWS = [
    {"id": "g1", "input": {"question": "q"}, "output": "GOOD answer one", "score": 5},
    {"id": "g2", "output": "GOOD answer two", "score": 4},
    {"id": "m1", "output": "MID answer", "score": 3},
    {"id": "b1", "output": "BAD answer one", "score": 1},
    {"id": "b2", "output": "BAD answer two", "label": "fail"},
    {"id": "g3", "output": "GOOD answer three", "label": True},
]


def make(root: Path, rows: list[dict[str, object]] | str = ROWS, rubric: str = CALIBRATED) -> Rubric:
    (root / "rubrics").mkdir(exist_ok=True)
    text = rows if isinstance(rows, str) else "".join(json.dumps(r) + "\n" for r in rows)
    (root / "rubrics" / "helpful.calibration.jsonl").write_text(text)
    (root / "rubrics" / "helpful.yaml").write_text(rubric)
    return load_file(root / "rubrics" / "helpful.yaml", root)


def test_rows_load(tmp_path: Path) -> None:
    rows = cal.load_rows(make(tmp_path), tmp_path)
    assert [(r.id, r.line, r.score, r.label) for r in rows] == [
        ("g1", 1, 5, None), ("g2", 2, 4, None), ("m1", 3, 3, None), ("b1", 4, 1, None), ("b2", 5, None, False),
        ("g3", 6, None, True)]
    assert rows[0].input == {"question": "q"}


BAD_ROWS = {
    "malformed JSON": ('{"output": "x", "score": 4\n', "rubrics/helpful.calibration.jsonl:1:27: malformed JSON: "
                       "Expecting ',' delimiter; expected one JSON object per line"),
    "not an object": ('["x", 4]\n', ":1: a calibration row must be a JSON object, found list"),
    "an unknown key": ('{"output": "x", "scroe": 4}\n', ":1: unknown key 'scroe' in a calibration row; "
                       "expected keys among: id, input, label, note, output, reference, score"),
    "no output": ('{"score": 4}\n', ":1: a calibration row needs 'output', the text the judge grades"),
    "no label": ('{"output": "x"}\n', ":1: a calibration row needs a human 'score' or 'label'; "
                 "expected 'score': an integer 1-5, or 'label': \"pass\" | \"fail\""),
    "a score off the scale": ('{"output": "x"}\n' * 0 + '\n{"output": "x", "score": 6}\n',
                              ":2: score 6 is not a level of the scale 1-5; expected an integer from 1 to 5"),
    "a score as text": ('{"output": "x", "score": "4"}\n', ":1: score '4' is not a level of the scale 1-5"),
    "a fractional score": ('{"output": "x", "score": 4.5}\n', ":1: score 4.5 is not a level of the scale 1-5"),
    "a bad label": ('{"output": "x", "label": "maybe"}\n', ":1: label 'maybe' is not pass or fail; "
                    "expected \"pass\", \"fail\", true or false"),
    "a duplicate id": ('{"id": "a", "output": "x", "score": 4}\n{"id": "a", "output": "y", "score": 4}\n',
                       ":2: duplicate row id 'a' (first at line 1)"),
    "no rows": ("\n\n", "rubrics/helpful.calibration.jsonl: the calibration file has no rows"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_malformed_rows_are_one_clear_message(tmp_path: Path, case: str) -> None:
    text, message = BAD_ROWS[case]
    with pytest.raises(ConfigError) as info:
        cal.load_rows(make(tmp_path, text), tmp_path)
    assert message in str(info.value) and "fix: " in str(info.value)


def judged(rubric: Rubric, *pairs: tuple[dict[str, object], float | None]) -> list[cal.Judged]:
    rows = [cal.Row(id=str(i), line=i, output="o", score=r.get("score"), label=r.get("label"))  # type: ignore[arg-type]
            for i, (r, _) in enumerate(pairs)]
    return [cal.Judged(row, w, None if w is None else w >= rubric.pass_score, None if w is not None else "boom")
            for row, (_, w) in zip(rows, pairs, strict=True)]


def test_measure(tmp_path: Path) -> None:
    rubric = make(tmp_path)
    result = cal.measure(rubric, judged(rubric, ({"score": 5}, 5.0), ({"score": 4}, 4.33), ({"score": 1}, 1.67),
                                        ({"score": 2}, 4.0), ({"label": False}, 1.0), ({"score": 3}, None)))
    assert (result.n, result.errors, result.score_rows) == (6, 1, 4)
    assert result.kappa_kind == "quadratic-weighted kappa on scores" and result.kappa == result.weighted_kappa
    assert result.level_accuracy == pytest.approx(2 / 4)  # levels 5, 4, 2, 4 vs human 5, 4, 1, 2
    assert result.mae == pytest.approx((0 + 0.33 + 0.67 + 2) / 4)
    assert result.accuracy == pytest.approx(4 / 5)  # human pass: T T F F F; judge: T T F T F
    assert result.weighted_kappa == pytest.approx(cal.agreement.cohen_kappa(
        [5, 4, 1, 2], [5, 4, 2, 4], labels=[1, 2, 3, 4, 5], weights="quadratic"))
    assert result.weighted_kappa == pytest.approx(0.70588, abs=1e-5)
    assert cal.shortfalls(result, rubric.floor) == ["1 of 6 calibration rows errored"]  # kappa, accuracy meet it


def test_labels_only_use_the_pass_fail_kappa(tmp_path: Path) -> None:
    rubric = make(tmp_path)
    result = cal.measure(rubric, judged(rubric, ({"label": True}, 5.0), ({"label": False}, 1.0)))
    assert result.kappa_kind == "kappa on pass/fail" and result.kappa == pytest.approx(1.0)


def test_the_gate_follows_the_record(tmp_path: Path) -> None:
    rubric = make(tmp_path)
    judge = "sha256:judge"
    assert ungated_reason(rubric, judge, tmp_path) == (
        "rubric 'helpful' was never calibrated; run 'goldband judge calibrate helpful'")
    good = cal.measure(rubric, judged(rubric, ({"score": 5}, 5.0), ({"score": 1}, 1.0), ({"score": 3}, 3.0)))
    cal.record(rubric, tmp_path, good, judge_hash=judge, judge_model="openai/j")
    assert ungated_reason(rubric, judge, tmp_path) is None and gate_for(rubric, judge, tmp_path, "calibrated").gating
    assert "the judge of rubric 'helpful' changed since calibration (was openai/j)" in str(
        ungated_reason(rubric, "sha256:other", tmp_path))
    changed = make(tmp_path, rubric=CALIBRATED.replace("pass: 4", "pass: 3"))
    assert "rubric 'helpful' changed since its calibration" in str(ungated_reason(changed, judge, tmp_path))
    relabelled = make(tmp_path, ROWS[:3])
    assert "calibration file of rubric 'helpful' changed" in str(ungated_reason(relabelled, judge, tmp_path))


def test_below_the_floor_does_not_gate_unless_asked(tmp_path: Path) -> None:
    rubric = make(tmp_path)
    bad = cal.measure(rubric, judged(rubric, ({"score": 5}, 1.0), ({"score": 1}, 5.0), ({"score": 3}, 3.0)))
    cal.record(rubric, tmp_path, bad, judge_hash="j", judge_model="m")
    gate = gate_for(rubric, "j", tmp_path, "calibrated")
    assert not gate.gating and "agreement is below its floor (kappa -1.00 < floor 0.6" in str(gate.reason)
    forced = gate_for(rubric, "j", tmp_path, "always")
    assert forced.gating and str(forced.reason).startswith("gating by request (judge gate: always) although")
    record = json.loads(rubric.agreement_path(tmp_path).read_text())
    assert record["meets_floor"] is False and record["agreement"]["n"] == 3 and record["judge_hash"] == "j"


def test_rubrics_without_a_floor_gate_unless_calibration_is_required(tmp_path: Path) -> None:
    rubric = make(tmp_path, rubric=RUBRIC)
    assert ungated_reason(rubric, "j", tmp_path) is None
    assert "has no agreement_floor" in str(ungated_reason(rubric, "j", tmp_path, require_calibration=True))


def serve_by_quality(server: FakeOpenAI) -> None:
    server.add_rule(contains="GOOD", replies=[reply(5, 5)])
    server.add_rule(contains="MID", replies=[reply(3, 3)])
    server.add_rule(contains="BAD", replies=[reply(1, 2)])


def test_calibrate_command_measures_prints_and_records(tmp_path: Path, openai_server: FakeOpenAI,
                                                       monkeypatch: pytest.MonkeyPatch, store_at: str) -> None:
    project(tmp_path, openai_server.url)
    make(tmp_path)
    serve_by_quality(openai_server)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GOLDBAND_STORE", store_at)  # the judge cache lives in the store, on either backend
    result = CliRunner().invoke(main, ["judge", "calibrate", "helpful", "--rows"])
    assert result.exit_code == 0, result.output
    assert "quadratic-weighted kappa    0.95  4 rows with a score" in result.output
    assert "pass/fail accuracy          1.00" in result.output
    assert "floor (kappa >= 0.6, accuracy >= 0.8): met" in result.output
    assert "recorded rubrics/helpful.agreement.json" in result.output
    assert len(judge_requests(openai_server)) == 6
    record = json.loads((tmp_path / "rubrics" / "helpful.agreement.json").read_text())
    assert record["meets_floor"] and record["rubric_hash"] == make(tmp_path).content_hash
    again = CliRunner().invoke(main, ["judge", "calibrate", "helpful"])  # the judge cache answers
    assert again.exit_code == 0 and len(judge_requests(openai_server)) == 6
    assert not (tmp_path / ".goldband" / "cache" / "judge.sqlite").exists()  # the store's cache, shared with runs
    with open_store(store_at, create=False) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM judge_cache").fetchone()[0] == 6


def test_a_recalibration_that_only_changes_the_time_leaves_the_record_alone(tmp_path: Path, openai_server: FakeOpenAI,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path, openai_server.url, judge_extra="  cache: false\n")  # the judge is asked every time
    make(tmp_path)
    serve_by_quality(openai_server)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "rubrics" / "helpful.agreement.json"
    first = CliRunner().invoke(main, ["judge", "calibrate", "helpful"])
    assert first.exit_code == 0 and "recorded rubrics/helpful.agreement.json" in first.output, first.output
    before = (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_ino)
    again = CliRunner().invoke(main, ["judge", "calibrate", "helpful"])
    assert again.exit_code == 0, again.output
    assert len(judge_requests(openai_server)) == 12  # measured again, by the judge itself
    assert "agreement unchanged: rubrics/helpful.agreement.json (only its measurement time would change: not " \
           "rewritten)" in again.output and "recorded" not in again.output
    assert (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_ino) == before
    openai_server.reset()
    openai_server.add_rule(contains="MID", replies=[reply(4, 4)])  # the judge now grades the middle answer higher
    serve_by_quality(openai_server)
    changed = CliRunner().invoke(main, ["judge", "calibrate", "helpful"])
    assert changed.exit_code == 0 and "recorded rubrics/helpful.agreement.json" in changed.output, changed.output
    assert json.loads(path.read_bytes())["agreement"] != json.loads(before[0])["agreement"]


def test_calibrate_below_the_floor_exits_1(tmp_path: Path, openai_server: FakeOpenAI,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path, openai_server.url)
    make(tmp_path, rubric=CALIBRATED.replace("kappa: 0.6", "kappa: 0.99"))
    serve_by_quality(openai_server)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["judge", "calibrate", "helpful"])
    assert result.exit_code == 1
    assert "Error: below the agreement floor: kappa 0.95 < floor 0.99" in result.output


def test_calibrate_with_a_malformed_row_names_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path, "http://127.0.0.1:9/v1")
    make(tmp_path, '{"output": "x", "score": 4}\n{"output": "y", "score": 9}\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["judge", "calibrate", "helpful"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "rubrics/helpful.calibration.jsonl:2: score 9 is not a level of the scale 1-5" in result.output


def test_calibrate_in_replay_without_cassettes_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path, "http://127.0.0.1:9/v1", mode="replay")
    make(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["judge", "calibrate", "helpful", "--no-record"])
    assert result.exit_code == 1 and "judge errors                   6" in result.output
    assert not (tmp_path / "rubrics" / "helpful.agreement.json").exists()
