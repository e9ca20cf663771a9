"""Model artifacts: copied into a content-addressed folder (or referenced by URI with their sha256), and
verified every time a version is resolved.

A file or directory is stored once under ``ARTIFACTS/ab/<sha256>/<name>``: the
same bytes registered twice share one copy, and no two different artifacts can
collide. A directory's sha256 is the hash of its manifest (every file's
relative path and sha256, sorted), so renaming or editing any file inside
changes it. Copies are written beside their destination and renamed into place,
so a killed registration never leaves half an artifact under a valid name.

Verifying a 100 MB artifact by hashing it on every ``resolve`` would cost about a
tenth of a second; instead the store remembers (path, size, mtime) -> sha256
from the last full hash (``registry_artifact_checks``), and the bytes are hashed
again only when the file's size or mtime changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from goldband.errors import RegistryError

__all__ = ["Artifact", "ArtifactCheck", "dir_sha256", "file_sha256", "store_artifact", "verify"]

CHUNK = 1 << 20


@dataclass(frozen=True)
class Artifact:
    """Where a version's artifact is: ``kind`` file | dir (``location`` relative to the artifact folder),
    uri (``location`` is the URI), or none."""

    kind: str
    location: str | None = None
    sha256: str | None = None
    bytes: int | None = None


# (path) -> (size, mtime_ns, sha256) | None, and its writer: the store's registry_artifact_checks table
Lookup = Callable[[str], "tuple[int, int, str] | None"]
Record = Callable[[str, int, int, str], None]


@dataclass(frozen=True)
class ArtifactCheck:
    """The cache of full hashes that lets ``verify`` skip unchanged files."""

    lookup: Lookup
    record: Record


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in 1 MB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def dir_sha256(folder: Path) -> tuple[str, int]:
    """The hex sha256 of a directory's manifest (relative path and sha256 of every file), and its total bytes."""
    manifest = [f"{p.relative_to(folder).as_posix()}\t{file_sha256(p)}" for p in _files(folder)]
    total = sum(p.stat().st_size for p in _files(folder))
    return hashlib.sha256("\n".join(manifest).encode()).hexdigest(), total


def store_artifact(source: Path, folder: Path, *, sha256: str | None = None) -> Artifact:
    """Copy ``source`` (a file or directory) into the content-addressed ``folder``; the copy's Artifact.

    ``sha256``: the digest the caller expects; bytes that hash otherwise are refused before anything is copied.
    """
    if not source.exists():
        raise RegistryError("the artifact does not exist", where=str(source),
                            expected="a file or directory written by training", fix="check the path")
    if source.is_dir():
        sha, size, kind = *dir_sha256(source), "dir"
    else:
        sha, size, kind = file_sha256(source), source.stat().st_size, "file"
    if sha256 is not None and sha != sha256:
        raise RegistryError(f"the artifact's sha256 is {sha[:12]}…, not the {sha256[:12]}… given", where=str(source),
                            expected="the bytes the digest was taken of", fix="check the path, or the --sha256 value")
    relative = Path(sha[:2]) / sha / source.name
    destination = folder / relative
    if not destination.exists():
        _copy_into_place(source, destination)
    return Artifact(kind, relative.as_posix(), sha, size)


def _copy_into_place(source: Path, destination: Path) -> None:
    """Copy beside the destination, then rename: a killed copy never sits under the final name."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=destination.parent))
    try:
        copy = staging / source.name
        if source.is_dir():
            shutil.copytree(source, copy)
        else:
            shutil.copy2(source, copy)
        try:
            os.replace(copy, destination)
        except OSError:
            if not destination.exists():
                raise
            # another registration of the same bytes renamed its copy into place first (a non-empty directory
            # cannot be replaced): that copy is identical, keep it
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def verify(path: Path, expected: str, kind: str, check: ArtifactCheck | None = None) -> None:
    """Refuse (RegistryError) an artifact that is missing or whose bytes no longer hash to ``expected``."""
    if not path.exists():
        raise RegistryError("the artifact is missing", where=str(path), expected=f"sha256 {expected[:12]}…",
                            fix="restore the artifact folder from a backup, or register the model again")
    if path.is_dir() != (kind == "dir"):
        raise RegistryError(f"the artifact changed since it was registered (a {kind} then, a "
                            f"{'dir' if path.is_dir() else 'file'} now)", where=str(path),
                            expected="the bytes that were registered: versions are immutable",
                            fix="register the changed artifact as a new version, or restore the original")
    key, size, mtime_ns = _stat(path, kind)
    cached = check.lookup(key) if check else None
    if cached == (size, mtime_ns, expected):
        return
    actual = dir_sha256(path)[0] if kind == "dir" else file_sha256(path)
    if actual != expected:
        raise RegistryError(f"the artifact changed since it was registered (sha256 {actual[:12]}…, "
                            f"registered {expected[:12]}…)", where=str(path),
                            expected="the bytes that were registered: versions are immutable",
                            fix="register the changed artifact as a new version, or restore the original")
    if check:
        check.record(key, size, mtime_ns, actual)


def _stat(path: Path, kind: str) -> tuple[str, int, int]:
    """The cache key, size and mtime of a file; for a directory, a key that changes with any file's stat."""
    if kind != "dir":
        stat = path.stat()
        return str(path), stat.st_size, stat.st_mtime_ns
    stats = [(p.relative_to(path).as_posix(), p.stat()) for p in _files(path)]
    fingerprint = hashlib.sha256(repr([(n, s.st_size, s.st_mtime_ns) for n, s in stats]).encode()).hexdigest()
    return (f"{path}#{fingerprint}", sum(s.st_size for _, s in stats),
            max((s.st_mtime_ns for _, s in stats), default=0))
