"""The training-data snapshot of a version: which file, its sha256, its rows and its column schema.

A tabular file (CSV, JSON Lines, Parquet) is read once to count its rows and
type its columns (``numeric`` when every present value reads as a number, else
``text``); any other file or a directory is recorded by hash and size only.
A URI is recorded as given (with the sha256 the caller states).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from goldband.errors import RegistryError
from goldband.registry.artifacts import dir_sha256, file_sha256
from goldband.watch.tables import FORMATS, file_format, read_rows

__all__ = ["data_snapshot"]


def data_snapshot(path: Path) -> dict[str, Any]:
    """``{path, sha256, bytes, rows, columns}`` of a training-data file or folder (rows/columns for tables)."""
    if not path.exists():
        raise RegistryError("the training data does not exist", where=str(path),
                            expected="the file or folder the model was trained on", fix="check --data")
    if path.is_dir():
        sha, size = dir_sha256(path)
        return {"path": str(path), "sha256": sha, "bytes": size}
    found: dict[str, Any] = {"path": str(path), "sha256": file_sha256(path), "bytes": path.stat().st_size}
    if path.suffix.lower() in {f".{f}" for f in FORMATS} | {".tsv", ".ndjson", ".json", ".pq"}:
        file_format(path)
        found.update(_table(path))
    return found


def _table(path: Path) -> dict[str, Any]:
    rows = 0
    kinds: dict[str, str] = {}
    for _, row in read_rows(path):
        rows += 1
        for name, value in row.items():
            if value is None or value == "":
                kinds.setdefault(name, "numeric")
            elif kinds.get(name, "numeric") == "numeric" and not _number(value):
                kinds[name] = "text"
            else:
                kinds.setdefault(name, "numeric")
    return {"rows": rows, "columns": kinds}


def _number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
