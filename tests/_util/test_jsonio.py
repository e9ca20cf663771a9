"""JSON, JSONL and TOML through the one safe loader: every refusal at file:line:column (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goldband._util import jsonio
from goldband.errors import ConfigError


def json_error(text: str, first_line: int = 1) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        jsonio.loads(text, "x.json", first_line)
    return info.value


def test_valid_json_loads() -> None:
    assert jsonio.loads('{"a": ["\\ud83d\\ude00", 1.5, null]}', "x.json") == {"a": ["\U0001F600", 1.5, None]}


@pytest.mark.parametrize(("text", "where", "what"), [
    ('{"a": [1, 2}', "x.json:1:12", "malformed JSON: Expecting ',' delimiter"),
    ("{\n  \"a\": tru\n}", "x.json:2:8", "malformed JSON: Expecting value"),
    ("[" * 1000 + "]" * 1000, "x.json:1:101", "more than 100 nested levels"),
    ('{"a": ' * 101 + "1" + "}" * 101, "x.json:1:601", "more than 100 nested levels"),
    ('["' + "[" * 500 + '"]', None, None),  # brackets inside a string are text
    ("9" * 5000, "x.json:1:1", "cannot read a value (Exceeds the limit (4300 digits) for integer string conversion"),
    ('{"a": "\\ud800"}', "x.json:1:8", "a \\uD800-\\uDFFF escape is half a character (a lone surrogate)"),
    ('{"a": "x\\udc00"}', "x.json:1:9", "a \\uD800-\\uDFFF escape is half a character (a lone surrogate)"),
    ('{"a": "\\\\ud800"}', None, None),  # an escaped backslash, then the text 'ud800'
])
def test_json_errors_name_line_and_column(text: str, where: str | None, what: str | None) -> None:
    if where is None:
        jsonio.loads(text, "x.json")
        return
    err = json_error(text)
    assert err.where == where
    assert err.what.startswith(str(what))


def test_json_errors_count_lines_from_the_records_line() -> None:
    assert json_error('{"a": }', first_line=7).where == "x.json:7:7"


def test_jsonl_records_keep_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('\ufeff{"id": "a"}\n\n{"id": "b\u2028c"}\r\n', encoding="utf-8")  # a BOM, a blank line, CRLF
    records, lines = jsonio.load_jsonl(path, Path("goldensets/c.jsonl"))
    assert records == [{"id": "a"}, {"id": "b\u2028c"}]  # U+2028 inside a string ends no line
    assert lines.where((1,)) == "goldensets/c.jsonl:3"


@pytest.mark.parametrize(("data", "where", "what"), [
    (b'{"id": "a"}\n{"id": "\x00"}\n', "2:9", "control character U+0000 (NUL) is not allowed here"),
    (b'{"id": "a"}\n{"id": "\xe9"}\n', "2:9", "byte 0xe9 is not UTF-8"),
    (b'{"id": "a"}\n' + b"[" * 200 + b"\n", "2:101", "more than 100 nested levels"),
    (b'{"id": "a"}\n{"id": \n', "2:8", "malformed JSON: Expecting value"),
])
def test_jsonl_errors_name_line_and_column(tmp_path: Path, data: bytes, where: str, what: str) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        jsonio.load_jsonl(path, Path("goldensets/c.jsonl"))
    assert info.value.where == f"goldensets/c.jsonl:{where}"
    assert info.value.what.startswith(what)
    assert info.value.expected in ("one JSON object per line", "UTF-8 text",
                                   "printable text (tabs and line breaks are fine)")


def test_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"type": "object"}), encoding="utf-8")
    assert jsonio.load(path) == {"type": "object"}
    with pytest.raises(ConfigError, match=r"^schemas/none.json: cannot read schema file: No such file"):
        jsonio.load(tmp_path / "none.json", "schemas/none.json", cannot="cannot read schema file")


# --- TOML -------------------------------------------------------------------------------------------------

PYPROJECT = """\
[project]
name = "shop"

[tool.goldband]
mode = "replay"
"concurrency" = 4

[tool.goldband.targets.support]
model = "openai/gpt-4o-mini"
params.temperature = 0
"""


def test_toml_lines_of_the_goldband_table(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT, encoding="utf-8")
    data, lines = jsonio.load_toml(path, "pyproject.toml", ("tool", "goldband"))
    assert data["tool"]["goldband"]["targets"]["support"]["params"] == {"temperature": 0}
    assert [lines.where(p) for p in [(), ("mode",), ("concurrency",), ("targets", "support", "params", "x")]] == [
        "pyproject.toml:4", "pyproject.toml:5", "pyproject.toml:6", "pyproject.toml:10"]
    assert lines.line(("name",)) == 4  # [project] keys are not goldband's: its table's line


@pytest.mark.parametrize(("data", "where", "what"), [
    (b"[tool.goldband\nmode = 1\n", "1:15", "malformed TOML: Expected ']' at the end of a table declaration"),
    (b"[tool.goldband]\nmode = 'r\xe9'\n", "2:10", "byte 0xe9 is not UTF-8"),
    (b"[tool.goldband]\nmode = '\x00'\n", "2:9", "control character U+0000 (NUL)"),
    (b"[tool.goldband]\nconcurrency = " + b"9" * 5000 + b"\n", "2:15", "cannot read a value (Exceeds the limit"),
    (b"[tool.goldband]\nx = [1, 0x" + b"f" * 5000 + b"]\n", "2:9", "cannot read a value (an integer of more"),
    (b"[tool.goldband]\nx = " + b"[" * 2000 + b"]" * 2000 + b"\n", "2:105", "more than 100 nested levels"),
])
def test_toml_errors_name_line_and_column(tmp_path: Path, data: bytes, where: str, what: str) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        jsonio.load_toml(path, "pyproject.toml")
    assert info.value.where == f"pyproject.toml:{where}"
    assert info.value.what.startswith(what)
