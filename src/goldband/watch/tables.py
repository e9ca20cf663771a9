"""Reading tabular files (CSV, JSON Lines, Parquet) row by row, with the line each row came from.

CSV values arrive as text ('' is a missing value); JSON Lines keep their JSON
types; Parquet (optional: needs ``pyarrow``) keeps its column types. Every
problem is a ``MonitorError`` naming ``file:line``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from goldband.errors import MonitorError

__all__ = ["FORMATS", "file_format", "file_hash", "read_rows"]

FORMATS = ("csv", "jsonl", "parquet")
PARQUET_BATCH = 10_000  # rows decoded at a time
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
             ".parquet": "parquet", ".pq": "parquet"}


def file_format(path: Path) -> str:
    """``csv``, ``jsonl`` or ``parquet``, from the file name."""
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise MonitorError(f"unknown file type {path.suffix or '(no suffix)'!r}", where=str(path),
                           expected="a .csv, .jsonl (or .ndjson) or .parquet file")
    return kind


def file_hash(path: Path) -> str:
    """``sha256:`` + the hex digest of the file's bytes (MonitorError for an unknown type or a missing file)."""
    _existing(path)
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise MonitorError(f"cannot read the file: {exc.strerror or exc}", where=str(path)) from None
    return "sha256:" + digest.hexdigest()


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, row)`` for every row of the file (line: 1-based line in the file; Parquet: row number)."""
    kind = _existing(path)
    if kind == "csv":
        yield from _csv(path)
    elif kind == "jsonl":
        yield from _jsonl(path)
    else:
        yield from _parquet(path)


def _existing(path: Path) -> str:
    """The file's format; MonitorError for an unknown type or a missing file."""
    kind = file_format(path)
    if not path.is_file():
        raise MonitorError("no such file", where=str(path), expected="an existing CSV, JSONL or Parquet file")
    return kind


def _csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows as ``csv.DictReader`` gives them (a short row's missing cells are None, blank lines skipped), with ''
    as None; built from ``csv.reader`` and the header, which is a third faster."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = next(reader, None)
            if not header:
                return
            _check_header(path, header)
            width = len(header)
            for cells in reader:
                if len(cells) != width:
                    if not cells:
                        continue
                    if len(cells) > width:  # more cells than the header has columns
                        raise MonitorError(f"{len(cells)} cells under a header of {width} columns",
                                           where=f"{path}:{reader.line_num}", expected="one cell per header column")
                    cells += [""] * (width - len(cells))
                yield reader.line_num, dict(zip(header, [c or None for c in cells], strict=True))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MonitorError(f"cannot read the CSV file: {exc}", where=str(path)) from None


def _check_header(path: Path, names: list[str]) -> None:
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice or any(not n.strip() for n in names):
        raise MonitorError(f"the header has {'repeated' if twice else 'empty'} column names "
                           f"({', '.join(twice) or 'an empty one'})", where=f"{path}:1",
                           expected="unique, non-empty column names")


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = _loads(line)
                except json.JSONDecodeError as exc:
                    raise MonitorError(f"malformed JSON: {exc.msg} (column {exc.colno})",
                                       where=f"{path}:{number}", expected="one JSON object per line") from None
                if not isinstance(row, dict):
                    raise MonitorError(f"a JSON {type(row).__name__}, not an object", where=f"{path}:{number}",
                                       expected="one JSON object per line")
                yield number, row
    except (OSError, UnicodeDecodeError) as exc:
        raise MonitorError(f"cannot read the JSONL file: {exc}", where=str(path)) from None


def _loads(line: str) -> Any:
    """One JSON value: orjson (3x faster), or the standard parser for what only it reads (NaN, Infinity, which
    the rows' checks then count) and for its error message."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def _parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows in batches of ``PARQUET_BATCH`` (pyarrow's ``iter_batches``), so memory does not grow with the file.

    A batch is converted column by column (a third of the time of ``to_pylist``'s dict per row), and a
    timestamp column becomes UTC text in milliseconds, the store's own form, instead of a datetime per cell.
    """
    try:
        import pyarrow.parquet as pq  # type: ignore[import-not-found,import-untyped,unused-ignore]  # optional
    except ImportError:
        raise MonitorError("reading Parquet needs pyarrow, which is not installed", where=str(path),
                           fix="pip install 'goldband[parquet]' (pyarrow), or convert it to CSV or JSONL") from None
    done = 0
    try:
        with pq.ParquetFile(path) as table:
            for batch in table.iter_batches(batch_size=PARQUET_BATCH):
                names = batch.schema.names
                columns = [_pylist(column) for column in batch.columns]
                yield from enumerate((dict(zip(names, cells, strict=True)) for cells in zip(*columns, strict=True)),
                                     done + 1)
                done += batch.num_rows
    except Exception as exc:  # pyarrow raises its own error types
        raise MonitorError(f"cannot read the Parquet file: {exc}", where=f"{path}:{done + 1}") from None


def _pylist(column: Any) -> list[Any]:
    """One Arrow column as Python values; timestamps as the store's ``YYYY-MM-DDTHH:MM:SS.mmm+00:00`` (naive ones
    taken as UTC)."""
    import pyarrow as pa  # type: ignore[import-not-found,import-untyped,unused-ignore]  # optional
    import pyarrow.compute as pc  # type: ignore[import-not-found,import-untyped,unused-ignore]

    if not pa.types.is_timestamp(column.type):
        return list(column.to_pylist())
    utc = column.cast(pa.timestamp("ms", tz="UTC"), safe=False)  # truncated to ms, as the store keeps times

    def digits(part: Any, width: int = 2) -> Any:
        return pc.utf8_lpad(pc.cast(part, pa.string()), width, "0")

    # built from its fields: twice as fast as pc.strftime, which formats each cell through a time zone lookup
    text = pc.binary_join_element_wise(
        pc.cast(pc.cast(utc, pa.date32()), pa.string()), "T", digits(pc.hour(utc)), ":", digits(pc.minute(utc)),
        ":", digits(pc.second(utc)), ".", digits(pc.millisecond(utc), 3), "+00:00", "")
    return list(text.to_pylist())
