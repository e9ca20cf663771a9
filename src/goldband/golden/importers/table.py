"""CSV and JSONL tables into a golden set, by a column mapping.

The mapping names what each column becomes (``--map FIELD=COLUMN``):

- ``input.VAR=COLUMN``: the template variable VAR of the case input (without any
  ``input.`` mapping, every column not mapped elsewhere is a variable of its own name);
- ``input=COLUMN``: the whole input (JSONL: a list of chat messages or a mapping);
- ``reference=COLUMN``, ``id=COLUMN``, ``description=COLUMN``;
- ``tags=COLUMN``: a list (JSONL) or text split at commas.

Without an ``id`` column, ids are made from the case's input (``Ids``); given ids must be
unique, and a duplicate is an error naming both rows.

>>> parse_mapping(["input.question=q", "reference=answer"], "--map")
{'input.question': 'q', 'reference': 'answer'}
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from goldband._util import jsonio, textio
from goldband.errors import ConfigError, OptionError
from goldband.golden.importers.common import Ids, Imported, provenance

FIELDS = ("id", "reference", "description", "tags", "input")


def parse_mapping(items: list[str], flag: str) -> dict[str, str]:
    """``FIELD=COLUMN`` items as a mapping; an item of another form, or a field twice, is an OptionError."""
    out: dict[str, str] = {}
    for item in items:
        field, sep, column = item.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not column or not (field in FIELDS or (field.startswith("input.") and len(field) > 6)):
            raise OptionError(f"{flag} {item!r} is not FIELD=COLUMN", where=flag,
                              expected=f"FIELD one of {', '.join(FIELDS)} or input.VAR, e.g. input.question=question",
                              fix="correct the mapping")
        if field in out:
            raise OptionError(f"{flag} maps {field!r} twice", where=flag, fix="keep one of them")
        out[field] = column
    if "input" in out and any(f.startswith("input.") for f in out):
        raise OptionError("give input=COLUMN (the whole input) or input.VAR=COLUMN items, not both", where=flag)
    return out


def rows(path: Path, shown: str, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) per row of a CSV (with a header) or JSONL (objects) file."""
    if kind == "jsonl":
        records, lines = jsonio.load_jsonl(path, Path(shown), cannot="cannot read file", fix=None)
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise ConfigError("a row must be a JSON object", where=lines.where((i,)),
                                  expected='{"column": value, ...} on each line')
            yield lines.where((i,)), record
        return
    reader = csv.DictReader(io.StringIO(textio.read(path, shown), newline=""))
    for row in reader:
        where = f"{shown}:{reader.line_num}"
        if None in row:
            raise ConfigError("this row has more cells than the header has columns", where=where,
                              fix="quote cells that hold commas")
        yield where, row


def from_table(path: Path, shown: str, *, kind: str, name: str, mapping: dict[str, str],
               checks: list[dict[str, Any]]) -> Imported:
    """Read a CSV or JSONL file into a golden set, by ``mapping`` (see the module doc)."""
    imported = Imported(name=name, source=shown, kind=kind, default_checks=checks)
    ids = Ids()
    seen_columns: set[str] = set()
    for where, row in rows(path, shown, kind):
        seen_columns |= set(row)
        imported.cases.append(_case(row, where, mapping, ids, len(imported.cases) + 1))
    missing = sorted(set(mapping.values()) - seen_columns)
    if missing:
        raise ConfigError(f"no column {', '.join(repr(m) for m in missing)} in {shown}", where="--map",
                          expected=f"columns of the file: {', '.join(sorted(map(str, seen_columns))) or 'none'}",
                          fix="correct the --map items")
    if not imported.cases:
        raise ConfigError(f"{shown} has no rows", where=shown, expected="a header and one row per case")
    return imported


def _case(row: dict[str, Any], where: str, mapping: dict[str, str], ids: Ids, number: int) -> dict[str, Any]:
    case_input = _input(row, where, mapping)
    given = row.get(mapping["id"]) if "id" in mapping else None
    if "id" in mapping and given not in (None, ""):
        case_id = ids.given(given, where)
    else:
        case_id = ids.generated(_text_of(case_input), number)
    case: dict[str, Any] = {"id": case_id}
    if "description" in mapping and row.get(mapping["description"]):
        case["description"] = str(row[mapping["description"]])
    case["input"] = case_input
    if "reference" in mapping and row.get(mapping["reference"]) not in (None, ""):
        case["reference"] = str(row[mapping["reference"]])
    tags = _tags(row.get(mapping["tags"]), where) if "tags" in mapping else []
    if tags:
        case["tags"] = tags
    case["provenance"] = provenance(where)
    return case


def _input(row: dict[str, Any], where: str, mapping: dict[str, str]) -> dict[str, Any] | list[Any]:
    if "input" in mapping:
        value = row.get(mapping["input"])
        if not isinstance(value, (dict, list)) or not value:
            raise ConfigError(f"column {mapping['input']!r} is not chat messages or a mapping", where=where,
                              expected='[{"role": "user", "content": "..."}] or {"var": "value"}',
                              fix="map it as input.VAR=COLUMN instead")
        return value
    variables = {f.removeprefix("input."): c for f, c in mapping.items() if f.startswith("input.")}
    if not variables:
        used = {c for f, c in mapping.items()}
        variables = {str(c): str(c) for c in row if c not in used}
    return {var: row.get(column) for var, column in variables.items()}


def _text_of(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(str(v) for v in value.values() if v not in (None, ""))
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        return str(value[-1].get("content", ""))
    return ""


def _tags(value: Any, where: str) -> list[str]:
    if value in (None, ""):
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    tags = [str(t).strip() for t in items if str(t).strip()]
    bad = [t for t in tags if not t.replace("_", "a").replace("-", "a").isalnum()]
    if bad:
        raise ConfigError(f"tag {bad[0]!r} is not a plain name", where=where,
                          expected="letters, digits, '_' and '-' (tags become pytest markers)",
                          fix="correct the tags column")
    return tags
