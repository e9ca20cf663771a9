"""The folder a demo writes into: a new temporary one, or one the user names that is empty or the same
demo's own (marked by a file, so a re-run starts over and never deletes anything else)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from goldband.errors import UsageError

__all__ = ["demo_folder", "marker"]


def marker(demo: str) -> str:
    """The file that marks a folder as written by ``demo`` ("loop demo" -> ``.goldband-loop-demo``)."""
    return ".goldband-" + demo.replace(" ", "-")


def demo_folder(directory: Path | None, demo: str) -> Path:
    """``directory`` ready for ``demo`` (emptied when that demo wrote it before), or a new temporary folder."""
    mark = marker(demo)
    if directory is None:
        folder = Path(tempfile.mkdtemp(prefix=mark.lstrip(".") + "-"))
    else:
        folder = directory.resolve()
        if folder.exists() and any(folder.iterdir()) and not (folder / mark).exists():
            raise UsageError("the directory is not empty", where=str(folder),
                             expected=f"an empty directory, or one a previous {demo} wrote",
                             fix="pass a new directory with --dir, or leave it out for a temporary one")
        if (folder / mark).exists():
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / mark).write_text(f"written by goldband {demo}; safe to delete\n", encoding="utf-8")
    return folder
