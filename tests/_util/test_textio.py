"""Reading a project file's text: UTF-8 and printable, or an error at the byte (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from goldband._util import textio
from goldband.errors import ConfigError


@pytest.mark.parametrize(("data", "where"), [
    (b"\xff", "f:1:1"),
    (b"ok\nd\xc3j\xc3\xa0\n", "f:2:2"),  # a lone lead byte
    ("é€😀 ".encode() + b"\xe9", "f:1:5"),  # columns count characters, not bytes
    (b"a\r\nb\xed\xa0\x80", "f:2:2"),  # an encoded surrogate is not UTF-8 either
    (b"abc\xe2\x82", "f:1:4"),  # cut off inside a character
])
def test_decode_names_the_bad_bytes_line_and_column(data: bytes, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        textio.decode(data, "f")
    assert info.value.where == where
    assert info.value.expected == "UTF-8 text"


def test_decode_drops_a_byte_order_mark() -> None:
    assert textio.decode(b"\xef\xbb\xbfname: x", "f") == "name: x"


@pytest.mark.parametrize(("text", "pattern", "refused"), [
    ("a\tb\r\nc\n", textio.CONTROLS, None),
    ("a\x00b", textio.CONTROLS, "U+0000 (NUL)"),
    ("a\x0cb", textio.CONTROLS, "U+000C"),
    ("a\x7fb\x85", textio.CONTROLS, None),  # JSON takes DEL and C1 controls inside strings
    ("a\x7fb", textio.YAML_UNPRINTABLE, "U+007F (DEL)"),
    ("a\x85b\u2028", textio.YAML_UNPRINTABLE, None),  # YAML's own line breaks
    ("a\x9bb", textio.YAML_UNPRINTABLE, "U+009B"),
    ("a\ufffe", textio.YAML_UNPRINTABLE, "U+FFFE"),
])
def test_unprintable_characters(text: str, pattern: re.Pattern[str], refused: str | None) -> None:
    if refused is None:
        textio.refuse_unprintable(text, "f", pattern)
        return
    with pytest.raises(ConfigError) as info:
        textio.refuse_unprintable(text, "f", pattern)
    assert str(info.value).startswith(f"f:1:2: control character {refused} is not allowed here")


def test_read_names_the_display_path(tmp_path: Path) -> None:
    (tmp_path / "a.j2").write_bytes(b"Hi\n{{ q }}\x00\n")
    with pytest.raises(ConfigError, match=r"^prompts/a.j2:2:8: control character U\+0000 \(NUL\)"):
        textio.read(tmp_path / "a.j2", "prompts/a.j2")
    with pytest.raises(ConfigError, match=r"^prompts/b.j2: cannot read template: No such file.*; fix: create it$"):
        textio.read(tmp_path / "b.j2", "prompts/b.j2", cannot="cannot read template", fix="create it")
