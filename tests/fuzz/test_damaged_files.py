"""Issue 17's failures, one test each, through the functions collection calls.

An alias bomb hung collection for minutes; a self-alias and deep nesting gave RecursionError; a
NUL byte or non-UTF-8 bytes gave INTERNALERROR or a raw traceback; a 10 MB value was echoed whole;
a lock file error dropped PyYAML's line. Each is now a ConfigError naming file:line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from goldband.config.project import load_config
from goldband.errors import ConfigError
from goldband.golden import goldenset
from goldband.golden.lock import check_and_record
from goldband.judge.rubric import load_file

from .projectkit import CONFIG, RUBRIC, SUPPORT, alias_bomb

BIG = "x" * 10_000_000


def write(root: Path, name: str, data: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def config(root: Path) -> Any:
    return load_config(root)


def golden_set(root: Path) -> Any:
    return goldenset.load(root / "goldensets/support.yaml", base_dir=root)


def rubric(root: Path) -> Any:
    return load_file(root / "rubrics/policy.yaml", root)


LOADERS: dict[str, Callable[[Path], Any]] = {"goldband.yaml": config, "goldensets/support.yaml": golden_set,
                                             "rubrics/policy.yaml": rubric}
VALID = {"goldband.yaml": CONFIG, "goldensets/support.yaml": SUPPORT, "rubrics/policy.yaml": RUBRIC}


def load_error(root: Path, name: str, data: str | bytes) -> ConfigError:
    write(root, "schemas/answer.json", "{}")
    write(root, "rubrics/policy.yaml", RUBRIC)
    write(root, name, data)
    with pytest.raises(ConfigError) as info:
        LOADERS[name](root)
    return info.value


@pytest.mark.parametrize("name", LOADERS)
def test_an_alias_bomb_is_refused_within_a_second(tmp_path: Path, name: str) -> None:
    started = time.perf_counter()
    err = load_error(tmp_path, name, VALID[name] + alias_bomb())
    assert time.perf_counter() - started < 1
    lines = VALID[name].count("\n")
    assert err.where == f"{name}:{lines + 6}:10"  # a4, the alias past 100,000 values
    assert "aliases repeat more than 100,000 values" in err.what


@pytest.mark.parametrize("name", LOADERS)
def test_a_self_alias_is_a_located_error(tmp_path: Path, name: str) -> None:
    err = load_error(tmp_path, name, VALID[name] + "extra: &loop [1, *loop]\n")
    assert err.where == f"{name}:{VALID[name].count(chr(10)) + 1}:18"
    assert err.what == "alias *loop is inside the node it names (a recursive alias)"


@pytest.mark.parametrize("name", LOADERS)
def test_a_nul_byte_is_a_located_error(tmp_path: Path, name: str) -> None:
    err = load_error(tmp_path, name, VALID[name].replace("version", "ver\x00sion", 1).replace("mode", "mo\x00de", 1))
    assert err.what == "control character U+0000 (NUL) is not allowed here"
    assert err.where is not None and err.where.startswith(f"{name}:")


@pytest.mark.parametrize("name", LOADERS)
def test_non_utf8_bytes_are_refused_at_their_line_and_column(tmp_path: Path, name: str) -> None:
    text = VALID[name] + "description: caf"
    err = load_error(tmp_path, name, text.encode() + b"\xe9 cr\xe8me\n")
    assert err.where == f"{name}:{text.count(chr(10)) + 1}:17"
    assert err.what == "byte 0xe9 is not UTF-8 (invalid continuation byte)"
    assert err.fix is not None and "UTF-8" in err.fix


@pytest.mark.parametrize("name", LOADERS)
def test_a_flow_list_nested_1000_deep_is_refused(tmp_path: Path, name: str) -> None:
    err = load_error(tmp_path, name, VALID[name] + "deep: " + "[" * 1000 + "]" * 1000 + "\n")
    assert err.what == "more than 100 nested levels"
    assert err.where is not None and err.where.startswith(f"{name}:{VALID[name].count(chr(10)) + 1}:")


def test_a_10_mb_golden_set_name_is_shortened(tmp_path: Path) -> None:
    err = load_error(tmp_path, "goldensets/support.yaml", SUPPORT.replace("name: support", f"name: {BIG}"))
    message = str(err)
    assert message.startswith("goldensets/support.yaml:2: name: 'xxx")
    assert "… (9,999,922 more characters) is too long" in message
    assert len(message) < 300


def test_a_10_mb_json_schema_value_is_shortened(tmp_path: Path) -> None:
    text = SUPPORT.replace("json_schema: schemas/answer.json", "json_schema: {type: " + BIG + "}")
    message = str(load_error(tmp_path, "goldensets/support.yaml", text))
    assert message.startswith("goldensets/support.yaml:31: case 'order-json': check 'json_schema': invalid JSON Schema")
    assert "more characters" in message
    assert len(message) < 400


def test_a_10_mb_case_id_is_shortened(tmp_path: Path) -> None:
    message = str(load_error(tmp_path, "goldensets/support.yaml", SUPPORT.replace("id: shipping", f"id: {BIG}")))
    assert message.startswith("goldensets/support.yaml:22: case 'xxx")
    assert len(message) < 600


def test_every_part_of_a_message_is_clipped() -> None:
    err = ConfigError(BIG, where="a.yaml:1", expected=BIG, fix=BIG)
    assert err.what == BIG  # the error keeps the whole value; only its message is clipped
    assert all(len(line) < 1_500 for line in str(err).splitlines())
    assert "characters left out" in str(err)


def lock_error(tmp_path: Path, text: bytes) -> ConfigError:
    path = write(tmp_path, "goldensets/support.yaml", "")
    write(tmp_path, "goldensets/support.lock", text)
    with pytest.raises(ConfigError) as info:
        check_and_record(path, "support", "1", "sha256:" + "a" * 64, 2, Path("goldensets/support.yaml"))
    return info.value


@pytest.mark.parametrize(("text", "where", "what"), [
    (b"name: support\nversions: {1: [\n", "3:1", "malformed lock file: did not find expected node content"),
    (b"name: support\nversions:\n  '1': sha\xff\n", "3:11", "malformed lock file: byte 0xff is not UTF-8"),
    (b"name: s\n" + alias_bomb().encode(), "7:10", "malformed lock file: aliases repeat more than 100,000 values"),
    (b"versions: [1, 2]\n", "1", "malformed lock file"),
])
def test_a_lock_file_error_names_its_line(tmp_path: Path, text: bytes, where: str, what: str) -> None:
    err = lock_error(tmp_path, text)
    assert err.where == f"goldensets/support.lock:{where}"
    assert err.what.startswith(what)
    assert err.fix == "restore it from version control, or delete it to re-record"
