"""SQL text both backends run: what SQLite alone would write as ``INSERT OR REPLACE``.

>>> print(upsert("monitor_state", ("scope", "key", "state"), ("scope", "key")))
INSERT INTO monitor_state (scope, key, state) VALUES (?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET state = ...
"""

from __future__ import annotations

import functools
from collections.abc import Sequence


@functools.cache
def upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """Insert a row, or update the row with the same ``key`` (its primary key) to the new values.

    Unlike SQLite's ``INSERT OR REPLACE`` the old row is updated, not deleted and inserted again, so rows that
    refer to it stay; PostgreSQL needs the conflict target named, and SQLite accepts the same text."""
    rest = [c for c in columns if c not in key]
    action = f"UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in rest)}" if rest else "NOTHING"
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT ({', '.join(key)}) DO {action}")
