"""The golden-set lock: the content hash recorded for each version, and when it is enforced.

``goldensets/support.yaml`` has ``goldensets/support.lock`` beside it. The first
time a version is seen its hash is recorded; afterwards a different hash under
the same version means the cases changed while "version 3" still names them, and
two runs of "version 3" must have run the same cases. Commit the lock file with
the golden set.

What a changed hash does depends on where the run happens (``draft_allowed``):

- **strict** (in CI: the ``CI`` variable is set, as GitHub Actions, GitLab CI and
  most CI systems set it; or ``--goldband-strict``): the run stops with a
  collection error naming the version line.
- **draft** (locally, or ``--goldband-draft`` anywhere): the run goes on with a
  warning (``Draft.message``); the lock file is left as it is, and the run is
  recorded as a draft, which no baseline, case history or series ever reads.
  Bump ``version`` and commit the lock to make results count.

    >>> draft_allowed(None, None, {"CI": "true"}), draft_allowed(None, None, {})
    (False, True)
    >>> draft_allowed(True, None, {"CI": "1"}), draft_allowed(None, True, {})
    (True, False)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from goldband._util import yamlio
from goldband.errors import ConfigError, OptionError

HEADER = (
    "# goldband lock: the content hash of each version of this golden set.\n"
    "# Commit it. Changing cases without bumping 'version' stops a CI run (locally: a draft run).\n"
)


def lock_path(goldenset_path: Path) -> Path:
    return goldenset_path.with_suffix(".lock")


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """The ``CI`` variable is set to something other than empty, ``0`` or ``false`` (as every major CI sets it)."""
    env = os.environ if environ is None else environ
    return env.get("CI", "").strip().lower() not in ("", "0", "false")


def draft_allowed(draft: bool | None, strict: bool | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a golden set changed under its version may run as a draft: ``--goldband-draft`` or
    ``--goldband-strict`` (or their GOLDBAND_* and ini forms, ``0`` turning one off) decides, and both on is an
    error; otherwise draft locally, strict in CI."""
    if draft and strict:
        raise OptionError("--goldband-draft and --goldband-strict are both set (by option, GOLDBAND_DRAFT/"
                          "GOLDBAND_STRICT or ini key); expected at most one of them")
    if draft is not None:
        return draft
    if strict is not None:
        return not strict
    return not in_ci(environ)


@dataclass(frozen=True)
class Draft:
    """A golden set whose content changed under a version its lock recorded with another hash, run anyway
    (draft mode): its results are marked draft, and the lock file is not rewritten."""

    name: str
    version: str
    shown: Path  # the golden set file, as messages show it
    recorded: str  # the hash the lock holds for ``version``
    content_hash: str  # the hash of the file as it is now
    next_version: str  # the first version the lock does not know yet

    @property
    def message(self) -> str:
        """The warning a draft run prints (terminal) and its reports repeat."""
        return (f"goldband: {self.shown.name} changed under version {self.version} (draft): results are marked "
                f"draft; bump 'version' to {self.next_version} and commit {lock_path(self.shown).name} "
                "to make them count")


def check_and_record(path: Path, name: str, version: str, content_hash: str,
                     version_line: int | None, display: Path | None = None, *, draft: bool = False) -> Draft | None:
    """Record ``version``'s hash if it is new. A known version with another hash raises, or, when ``draft``
    is allowed (``draft_allowed``), is returned as a ``Draft`` and the lock is left untouched."""
    shown = display or path
    lock = lock_path(path)
    data = _read(lock, lock_path(shown))
    versions: dict[str, str] = {str(k): str(v) for k, v in (data.get("versions") or {}).items()}
    recorded = versions.get(version)
    if recorded == content_hash:
        return None
    if recorded is not None:
        if draft:
            return Draft(name, version, shown, recorded, content_hash, _next_free(version, versions))
        raise ConfigError(
            f"golden set '{name}' changed but its version is still {version} "
            f"(recorded {recorded[:19]}…, now {content_hash[:19]}…)",
            where=f"{shown}:{version_line}" if version_line else str(shown),
            expected="a new version whenever cases or defaults change (the lock is strict in CI: CI is set, "
            "or --goldband-strict)",
            fix=f"bump 'version' (e.g. to {_next_free(version, versions)}) and commit {lock.name}; "
            "or revert the change; while editing, run locally (draft mode) or with --goldband-draft",
        )
    versions[version] = content_hash
    _write(lock, {"name": name, "versions": versions})
    return None


def describe(path: Path, version: str, content_hash: str, display: Path | None = None) -> str:
    """One line on the golden set's lock state, read only (for ``goldband golden status``): locked, a
    version the lock does not know yet, or a draft (changed under a recorded version)."""
    shown = display or path
    data = _read(lock_path(path), lock_path(shown))
    versions: dict[str, str] = {str(k): str(v) for k, v in (data.get("versions") or {}).items()}
    recorded = versions.get(version)
    if recorded == content_hash:
        return f"version {version} locked in {lock_path(shown).name}"
    if recorded is None:
        return f"version {version} not in {lock_path(shown).name} yet: the next run records it"
    return (f"DRAFT: changed under version {version} (a local run is marked draft, CI stops); bump 'version' to "
            f"{_next_free(version, versions)} and commit {lock_path(shown).name}")


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


def _next_free(version: str, versions: Mapping[str, str]) -> str:
    """The next version after ``version`` that the lock has not recorded (a bump must name a new one)."""
    found = _next(version)
    while found in versions:
        found = _next(found)
    return found
