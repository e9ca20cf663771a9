"""Damaging a store the way a disk fault does: 4 KB of random bytes over one page past the header.

Issue 17: such a store opens (its header and schema read fine), answers most reads, and fails
only the writes that reach the damaged page. ``damage_store`` reproduces that on a real store.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from pathlib import Path

PAGE = 4096


def damage_store(path: Path, *, seed: int = 17, btree: str | None = "trials") -> int:
    """Overwrite one page of ``path`` with 4 KB of seeded random bytes; return its page number (1-based).

    ``btree``: the middle page of this table or index (so writes to it fail, as in the issue);
    None: the file's middle page, whatever it holds. The WAL is checkpointed first, so the page
    damaged is the one SQLite reads.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert conn.execute("PRAGMA page_size").fetchone()[0] == PAGE
        if btree is None:
            pages = list(range(2, path.stat().st_size // PAGE + 1))
        else:
            pages = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = ? ORDER BY pageno", [btree])]
    finally:
        conn.close()
    page = pages[len(pages) // 2]
    assert page > 1, "the header page is not what this damages"
    with path.open("r+b") as f:
        f.seek((page - 1) * PAGE)
        f.write(random.Random(seed).randbytes(PAGE))
    return page


def digest(path: Path) -> str:
    """The store's bytes (its main file and its WAL, when there is one), to show nothing wrote to it."""
    wal = Path(f"{path}-wal")
    return hashlib.sha256(path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")).hexdigest()
