"""The golden-set lock file: the content hash recorded for each version.

``goldensets/support.yaml`` has ``goldensets/support.lock`` beside it. The first
time a version is seen its hash is recorded; afterwards a different hash under
the same version stops the run, because two runs of "version 3" must have run
the same cases. Commit the lock file with the golden set.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from goldband._util import yamlio
from goldband.errors import ConfigError

HEADER = (
    "# goldband lock: the content hash of each version of this golden set.\n"
    "# Commit it. Changing cases without bumping 'version' is an error.\n"
)


def lock_path(goldenset_path: Path) -> Path:
    return goldenset_path.with_suffix(".lock")


def check_and_record(path: Path, name: str, version: str, content_hash: str,
                     version_line: int | None, display: Path | None = None) -> None:
    """Raise if ``version`` was recorded with another hash; record it if new."""
    shown = display or path
    lock = lock_path(path)
    data = _read(lock, lock_path(shown))
    versions: dict[str, str] = {str(k): str(v) for k, v in (data.get("versions") or {}).items()}
    recorded = versions.get(version)
    if recorded == content_hash:
        return
    if recorded is not None:
        raise ConfigError(
            f"golden set '{name}' changed but its version is still {version} "
            f"(recorded {recorded[:19]}…, now {content_hash[:19]}…)",
            where=f"{shown}:{version_line}" if version_line else str(shown),
            expected="a new version whenever cases or defaults change",
            fix=f"bump 'version' (e.g. to {_next(version)}) and commit {lock.name}; "
            "or revert the change",
        )
    versions[version] = content_hash
    _write(lock, {"name": name, "versions": versions})


def _read(lock: Path, shown: Path) -> dict[str, Any]:
    """The lock's data, read by the one safe loader (``goldband._util.yamlio``); errors name its line."""
    if not lock.exists():
        return {}
    try:
        data, lines = yamlio.load(lock, shown)
    except ConfigError as exc:
        raise ConfigError(f"malformed lock file: {exc.what.removeprefix('malformed YAML: ')}", where=exc.where,
                          expected=exc.expected,
                          fix="restore it from version control, or delete it to re-record") from None
    data = data or {}
    if not isinstance(data, dict) or not isinstance(data.get("versions") or {}, dict):
        at = ("versions",) if isinstance(data, dict) else ()
        raise ConfigError("malformed lock file", where=lines.where(at) if lines.line(at) else f"{shown}:1",
                          expected="keys name and versions (a mapping of version to hash)",
                          fix="restore it from version control, or delete it to re-record")
    return data


def _write(lock: Path, data: dict[str, Any]) -> None:
    """Atomic replace, so parallel workers and killed runs never leave half a file."""
    text = HEADER + yaml.safe_dump(data, sort_keys=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=lock.parent, prefix=lock.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, lock)
    except OSError as exc:
        raise ConfigError(f"cannot write lock file: {exc.strerror}", where=str(lock),
                          fix="make the golden set directory writable") from None


def _next(version: str) -> str:
    return str(int(version) + 1) if version.isdigit() else f"{version}.1"
