"""Reading a project file's text: UTF-8, no control characters, every refusal at file:line:column.

Every file goldband reads from a project (goldband.yaml, golden sets, cases,
rubrics, templates, lock, schema and baseline files) comes through ``read``:
the bytes are decoded here rather than by ``Path.read_text``, so a Latin-1 file,
a NUL byte or a half-written binary is a ``ConfigError`` that points at the
byte, never a ``UnicodeDecodeError`` traceback.

>>> position("ab\\ncd", 4)
(2, 2)
"""

from __future__ import annotations

import re
from pathlib import Path

from goldband.errors import ConfigError

# C0 control characters other than tab, line feed and carriage return: never text.
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# What YAML refuses (PyYAML's and libyaml's non-printable set): C0 and C1 controls, DEL, U+FFFE/FFFF.
YAML_UNPRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAMES = {0: "NUL", 0x1b: "ESC", 0x7f: "DEL"}


def read(path: Path, display: object = None, *, unprintable: re.Pattern[str] = CONTROLS,
         cannot: str = "cannot read file", fix: str | None = None) -> str:
    """The text of ``path``: UTF-8 (a leading byte-order mark dropped), without ``unprintable`` characters.

    Errors name ``display`` (default ``path``): ``cannot`` and ``fix`` word a missing or unreadable file.
    """
    shown = display or path
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{cannot}: {exc.strerror}", where=str(shown), fix=fix) from None
    return text(data, shown, unprintable)


def text(data: bytes, shown: object, unprintable: re.Pattern[str] = CONTROLS) -> str:
    """``data`` decoded (``decode``) and checked (``refuse_unprintable``): the text of a file read elsewhere."""
    decoded = decode(data, shown)
    refuse_unprintable(decoded, shown, unprintable)
    return decoded


def decode(data: bytes, shown: object) -> str:
    """``data`` as UTF-8; a bad byte is a ConfigError at its line and column."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start:exc.start].decode("utf-8", errors="replace")) + 1
        utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
        raise ConfigError(
            f"byte 0x{data[exc.start]:02x} is not UTF-8 ({exc.reason})"
            + (": the file looks like UTF-16" if utf16 else ""),
            where=f"{shown}:{line}:{column}", expected="UTF-8 text",
            fix="save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 FILE), or remove that byte",
        ) from None


def refuse_unprintable(text: str, shown: object, unprintable: re.Pattern[str] = CONTROLS, *,
                       first_line: int = 1) -> None:
    """A ConfigError at the first character of ``text`` that ``unprintable`` matches."""
    found = unprintable.search(text)
    if found is None:
        return
    line, column = position(text, found.start())
    code = ord(found.group())
    name = f"U+{code:04X}" + (f" ({_NAMES[code]})" if code in _NAMES else "")
    raise ConfigError(
        f"control character {name} is not allowed here", where=f"{shown}:{line + first_line - 1}:{column}",
        expected="printable text (tabs and line breaks are fine)",
        fix="remove it (a NUL byte often means a binary or half-written file); "
            "write it as an escape such as \\u0000 inside a double-quoted string if it belongs to a value",
    )


def position(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of ``text[index]``."""
    line = text.count("\n", 0, index) + 1
    return line, index - text.rfind("\n", 0, index)
