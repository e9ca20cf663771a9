"""``goldband monitor traces`` and ``monitor feedback``: trace and feedback files into a real store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from goldband.cli import main
from goldband.store import open_store

FIXTURES = Path(__file__).parent / "fixtures" / "otlp"


@pytest.fixture
def project(tmp_path: Path, store_at: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "goldband.yaml").write_text(f"store: {store_at}\nmonitors:\n  llm:\n    support:\n      version: '3'\n"
                                            "      redact: privacy:redact\n")
    (tmp_path / "privacy.py").write_text(
        "import dataclasses, re\n"
        "def redact(record):\n"
        "    if 'explode' in str(record.input):\n"
        "        raise RuntimeError('no rule for this')\n"
        "    mask = lambda s: re.sub(r'[\\w.]+@[\\w.]+', '[email]', s) if isinstance(s, str) else s\n"
        "    return dataclasses.replace(record, input=mask(record.input) if isinstance(record.input, str) else\n"
        "                               record.input, output=mask(record.output))\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["monitor", *args])


def rows(root: Path, sql: str) -> list[tuple[Any, ...]]:
    """``sql``'s rows from the store the project's goldband.yaml names (its first line)."""
    where = (root / "goldband.yaml").read_text().splitlines()[0].removeprefix("store: ")
    with open_store(where) as store:
        return [tuple(row) for row in store.conn.execute(sql).fetchall()]


def test_an_otlp_export_is_stored_once_however_often_it_is_ingested(project: Path) -> None:
    shutil.copy(FIXTURES / "genai-semconv.otlp.jsonl", project / "export.jsonl")
    first = cli("traces", "support", "export.jsonl")
    assert first.exit_code == 0, first.output
    assert "stored 3 of 3 traces" in first.output
    again = cli("traces", "support", "export.jsonl")
    assert again.exit_code == 0 and "stored 0 of 3 traces, 3 already stored" in again.output
    stored = rows(project, "SELECT trace_id, span_id, version, source FROM llm_traces ORDER BY time")
    assert len(stored) == 3 and {r[3] for r in stored} == {"otlp"}
    assert ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174") in {(r[0], r[1]) for r in stored}


def test_own_form_records_are_redacted_and_bad_ones_refused_with_their_line(project: Path) -> None:
    lines = [{"trace_id": "a", "input": "I am ana@example.com", "output": "Hi ana@example.com"},
             {"trace_id": "b", "input": "explode", "output": "x"},
             {"trace_id": "c", "input": "q", "output": "y", "latency": 3},
             {"trace_id": "d", "input": "q", "output": "z", "version": "4"}]
    (project / "t.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = cli("traces", "support", "t.jsonl", "--strict")
    assert result.exit_code == 1
    assert "stored 2 of 4 traces, refused 2" in result.output
    assert "t.jsonl:2: trace 'b': the redaction hook raised RuntimeError: no rule for this; not stored" in result.output
    assert "t.jsonl:3:" in result.output and "'latency_ms'" in result.output
    assert rows(project, "SELECT trace_id, input, output, version FROM llm_traces ORDER BY trace_id") == [
        ("a", '"I am [email]"', "Hi [email]", "3"), ("d", '"q"', "z", "4")]


def test_a_feedback_file_is_stored_once_and_unknown_traces_are_refused(project: Path) -> None:
    (project / "t.jsonl").write_text("".join(json.dumps({"trace_id": f"t{i}", "input": "q", "output": "a"}) + "\n"
                                             for i in range(3)))
    assert cli("traces", "support", "t.jsonl").exit_code == 0
    (project / "f.jsonl").write_text(
        json.dumps({"trace_id": "t1", "thumbs": "down", "correction": "It is 30 days."}) + "\n"
        + json.dumps({"trace_id": "t9", "thumbs": "down"}) + "\n"
        + json.dumps({"trace_id": "t2", "thumb": "up"}) + "\n")
    first = cli("feedback", "support", "--file", "f.jsonl")
    assert first.exit_code == 0, first.output
    assert "stored 1 of 3 feedback, refused 2" in first.output  # lines: the first holds two pieces of feedback
    assert "f.jsonl:2: no trace 't9' of app 'support' in the store" in first.output
    assert "f.jsonl:3:" in first.output and "did you mean 'thumbs'?" in first.output
    again = cli("feedback", "support", "--file", "f.jsonl")
    assert "stored 0 of 3 feedback, 1 already stored, refused 2" in again.output
    assert rows(project, "SELECT trace_id, kind, value FROM llm_feedback ORDER BY id") == [
        ("t1", "thumbs", "down"), ("t1", "correction", "It is 30 days.")]
    one = cli("feedback", "support", "t0", "--thumbs", "up", "--by", "ana")
    assert one.exit_code == 0 and "support trace t0: 1 feedback row(s) stored" in one.output
    unknown = cli("feedback", "support", "nope", "--thumbs", "up")
    assert unknown.exit_code != 0 and "no trace 'nope' of app 'support'" in unknown.output


def test_a_trace_file_that_is_not_json_is_one_clear_error(project: Path) -> None:
    (project / "bin.jsonl").write_bytes(b"\x00\x00\x01\x2c\x28\xb5\x2f\xfd")
    result = cli("traces", "support", "bin.jsonl")
    assert result.exit_code != 0 and "bin.jsonl" in result.output and "Traceback" not in result.output
