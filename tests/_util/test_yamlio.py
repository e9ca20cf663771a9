"""The one safe YAML loader: lines for every value, and limits no file can get past (issue 17)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from goldband._util import yamlio
from goldband._util.hashing import canonical_hash
from goldband.errors import ConfigError

SHOWN = Path("goldensets/s.yaml")


def bomb(levels: int, width: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        yamlio.loads(text, SHOWN)
    return info.value


def test_values_keep_their_lines() -> None:
    data, lines = yamlio.loads("name: s\ncases:\n  - id: a\n    input: {q: 1}\n", SHOWN)
    assert data == {"name": "s", "cases": [{"id": "a", "input": {"q": 1}}]}
    assert lines.where(("cases", 0, "input", "q")) == "goldensets/s.yaml:4"
    assert lines.where(("cases", 7)) == "goldensets/s.yaml:2"  # the nearest ancestor


def test_an_alias_bomb_is_refused_at_once_at_the_alias() -> None:
    started = time.perf_counter()
    err = error(bomb(8))  # 9 ** 8 = 43 million values
    assert time.perf_counter() - started < 1
    assert err.where == "goldensets/s.yaml:6:10"  # the alias that went over the budget
    assert err.what.startswith("aliases repeat more than 100,000 values")
    assert "JSONL" in str(err.fix)


def test_aliases_within_the_budget_load_and_are_indexed_once() -> None:
    started = time.perf_counter()
    data, lines = yamlio.loads(bomb(4), SHOWN)  # 9 ** 4 = 6,561 values repeated
    assert time.perf_counter() - started < 1
    assert len(data["a4"]) == 9 and data["a4"][0] is data["a3"]  # shared, as PyYAML builds it
    assert len(lines.by_path) < 60  # each shared node walked once, not once per path


@pytest.mark.parametrize(("text", "where"), [("a: &a [*a]\n", "1:8"), ("b: &b {x: *b}\n", "1:11"),
                                             ("c: &c\n  - d: [1, *c]\n", "2:12")])
def test_an_alias_inside_the_node_it_names_is_refused(text: str, where: str) -> None:
    err = error(text)
    assert err.where == f"goldensets/s.yaml:{where}"
    assert "(a recursive alias)" in err.what


@pytest.mark.parametrize("text", ["x: " + "[" * 1000 + "]" * 1000 + "\n",
                                  "x: " + "{a: " * 150 + "1" + "}" * 150 + "\n",
                                  "x:\n" + "".join("  " * i + "- \n" for i in range(1, 150))])
def test_nesting_deeper_than_100_levels_is_refused(text: str) -> None:
    err = error(text)
    assert err.what == "more than 100 nested levels"
    assert err.where is not None and err.where.startswith("goldensets/s.yaml:")
    assert "flatten" in str(err.fix)


def test_nesting_of_100_levels_loads() -> None:
    data, _ = yamlio.loads("[" * 99 + "1" + "]" * 99 + "\n", SHOWN)  # and the number: 100 levels
    for _ in range(99):
        data = data[0]
    assert data == 1


@pytest.mark.parametrize(("data", "where", "what"), [
    (b"name: s\nversion: \x00\n", "2:10", "control character U+0000 (NUL) is not allowed here"),
    (b"name: caf\xe9\n", "1:10", "byte 0xe9 is not UTF-8 (invalid continuation byte)"),
    (b"name: s\n  # \xff\n", "2:5", "byte 0xff is not UTF-8 (invalid start byte)"),
    (b"a: \x1b[31m\n", "1:4", "control character U+001B (ESC) is not allowed here"),
    (b"a: \x7f\n", "1:4", "control character U+007F (DEL) is not allowed here"),
    (b"\xff\xfea\x00:\x00", "1:1", "byte 0xff is not UTF-8 (invalid start byte): the file looks like UTF-16"),
])
def test_bad_bytes_are_refused_at_their_line_and_column(tmp_path: Path, data: bytes, where: str, what: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        yamlio.load(path, SHOWN)
    assert (info.value.where, info.value.what) == (f"goldensets/s.yaml:{where}", what)


def test_a_byte_order_mark_and_tabs_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: s\nnote: 'a\tb'\n")
    assert yamlio.load(path)[0] == {"name": "s", "note": "a\tb"}


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^goldensets/s.yaml: cannot read file: No such file"):
        yamlio.load(tmp_path / "missing.yaml", SHOWN)


@pytest.mark.parametrize(("text", "where", "what"), [
    ("a: 2024-13-45\n", "1:4", "cannot read this value (month must be in 1..12)"),
    ("a: " + "9" * 5000 + "\n", "1:4", "cannot read this value (Exceeds the limit (4300 digits)"),
    ("a: !!timestamp nope\n", "1:4", "cannot read this value ("),
    ("a: 0x" + "f" * 5000 + "\n", "1:4", "cannot read this value (an integer of more than 4,000 digits)"),
    ("a: !!python/object/apply:os.system [ls]\n", "1:4", "malformed YAML: could not determine a constructor"),
    ("? [x]\n: y\n", "1:3", "a key must be text or a number, found a list"),
    ("2024-01-01: x\n", "1:1", "a key must be text or a number, found a timestamp"),
    ("a: *missing\n", "1:4", "malformed YAML: found undefined alias 'missing'"),
    ("a: [1, 2\n", "2:1", "malformed YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 1)"),
    ("a: 'open\n", "2:1", "malformed YAML: found unexpected end of stream"),
    ("a: b\n  c: d\n", "2:4", "malformed YAML: mapping values are not allowed in this context"),
    ("a: 1\n---\nb: 2\n", "2:1", "malformed YAML: expected a single document in the stream, but found another"),
])
def test_every_error_keeps_its_mark(text: str, where: str, what: str) -> None:
    err = error(text)
    assert err.where == f"goldensets/s.yaml:{where}"
    assert err.what.startswith(what)


def test_keys_of_several_kinds_load_and_hash() -> None:
    """'on:' is true in YAML 1.1 (the registry's 'on:' reads it so); keys of mixed kinds hash, though they do not
    sort: a golden set's content hash takes them."""
    data, _ = yamlio.loads("levels: {1: a, 2.5: b}\nflags: {on: 1, command: x}\nmixed: {1: a, b: c, ~: d}\n", SHOWN)
    assert data["flags"] == {True: 1, "command": "x"}
    reordered = {**data, "mixed": {None: "d", "b": "c", 1: "a"}}
    assert canonical_hash(data) == canonical_hash(reordered) != canonical_hash({**data, "mixed": {1: "a"}})


def test_duplicate_keys_are_refused() -> None:
    assert str(error("a: 1\nb: 2\na: 3\n")).startswith("goldensets/s.yaml:3: duplicate key 'a' (first at line 1)")


def test_a_long_value_in_a_message_is_shortened() -> None:
    err = error(f"a: *{'x' * 10_000}\n")
    assert len(str(err)) < 600
    assert "more characters)" in str(err)


@pytest.mark.parametrize("text", [bomb(8), "a: &a [*a]\n", "x: " + "[" * 500 + "]" * 500, "a: 2024-13-45\n",
                                  "a: !!timestamp nope\n", 'a: "\\ud800"\n', "a: [1, 2\n", "a: b\n  c: d\n"])
def test_the_pure_python_parser_is_held_to_the_same_limits(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Where PyYAML was built without libyaml, the same errors at the same places."""
    with_libyaml = error(text)
    monkeypatch.setattr(yamlio, "_Loader", yamlio._PyLoader)
    pure = error(text)
    assert (pure.where or "").split(":")[:2] == (with_libyaml.where or "").split(":")[:2]  # the same line
    if not with_libyaml.what.startswith("malformed YAML"):  # the two parsers word syntax errors apart
        assert pure.what == with_libyaml.what


def test_the_pure_python_parser_loads_the_same_data(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "name: s\nx: &x {a: [1, 2.5, null, true, 'q']}\ny: {<<: *x, b: 2024-01-02}\nz: |\n  block\n"
    expected = yamlio.loads(text, SHOWN)
    monkeypatch.setattr(yamlio, "_Loader", yamlio._PyLoader)
    assert yamlio.loads(text, SHOWN)[0] == expected[0]
