"""How ``goldband registry`` shows versions, artifacts, data snapshots and times (text and JSON)."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from goldband.store.registry import VersionRow


def echo_json(value: Any) -> None:
    def plain(found: Any) -> Any:  # the registry's rows are dataclasses
        return dataclasses.asdict(found) if dataclasses.is_dataclass(found) and not isinstance(found, type) \
            else str(found)

    click.echo(json.dumps(value, indent=1, ensure_ascii=False, default=plain))


def version_json(row: VersionRow) -> dict[str, Any]:
    return {"ref": row.ref, **dataclasses.asdict(row)}


def pointing(aliases: dict[str, str]) -> dict[str, list[str]]:
    """version -> the aliases pointing at it (sorted)."""
    found: dict[str, list[str]] = {}
    for alias, number in sorted(aliases.items()):
        found.setdefault(number, []).append(alias)
    return found


def aliases_text(aliases: dict[str, str]) -> str:
    return ", ".join(f"{alias}={number}" for alias, number in sorted(aliases.items())) or "-"


def artifact_text(row: VersionRow, *, short: bool = False) -> str:
    sha = f"sha256 {(row.artifact_sha256 or '?')[:12]}…"
    size = f", {byte_size(row.artifact_bytes)}" if row.artifact_bytes is not None else ""
    if row.artifact_kind == "file":
        return f"{sha}{size}" if short else f"artifact {sha}{size}"
    if row.artifact_kind == "dir":
        return f"dir {sha}{size}" if short else f"artifact directory {sha}{size}"
    if row.artifact_kind == "uri":
        return f"{row.artifact}" if short else f"artifact {row.artifact}, {sha}"
    return "-" if short else "no artifact"


def artifact_detail(row: VersionRow) -> str:
    """The artifact in full (``show``): kind, sha256, size, URI."""
    if row.artifact_kind == "none":
        return "none"
    where = f"{row.artifact}, " if row.artifact_kind == "uri" else ""
    size = f", {byte_size(row.artifact_bytes)}" if row.artifact_bytes is not None else ""
    return f"{row.artifact_kind}: {where}sha256 {row.artifact_sha256}{size}"


def data_text(data: dict[str, Any]) -> str:
    text = f"{data.get('path') or data.get('uri') or '?'} (sha256 {str(data.get('sha256', '?'))[:12]}…"
    if "rows" in data:
        text += f", {data['rows']:,} rows"
    if data.get("columns"):
        text += ", columns " + ", ".join(f"{n} ({k})" for n, k in data["columns"].items())
    elif data.get("bytes") is not None:
        text += f", {byte_size(data['bytes'])}"
    return text + ")"


def mapping_text(mapping: dict[str, Any] | None) -> str | None:
    if not mapping:
        return None
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v, sort_keys=True)}"
                     for k, v in sorted(mapping.items()))


def byte_size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def cell(value: Any) -> str:
    if value is None:
        return "-"
    return clip(value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str), 60)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def when(stamp: str | None) -> str:
    return (stamp or "-")[:19].replace("T", " ")
