"""Serialising a read-then-write transaction the same way on both backends.

Some writes decide from what they read: "is ``churn@production`` still at version 3? then move it", "is the
next version number 4?", "has this fingerprint an open alert? else open one". On SQLite the store's ``BEGIN
IMMEDIATE`` already holds the whole database's write lock, so two such transactions run one after the other.
PostgreSQL's row locks cannot stand in for it: the row decided about may not exist yet (the first promotion,
the first alert), or the decision reads several rows. So the transaction first takes a transaction-scoped
advisory lock named by what it decides about (``pg_advisory_xact_lock``): a second transaction with the same
name waits at that statement until the first commits or rolls back, then reads what it committed (PostgreSQL's
default isolation, READ COMMITTED, gives each later statement a fresh snapshot). On SQLite ``serialize`` does
nothing.

>>> lock_key("registry", "churn") == lock_key("registry", "churn") != lock_key("registry", "churn2")
True
>>> -2**63 <= lock_key("alerts") < 2**63
True
"""

from __future__ import annotations

import hashlib
import sqlite3

from goldband.store.pgconn import is_postgres

__all__ = ["lock_key", "serialize"]


def lock_key(*name: str) -> int:
    """The advisory lock's 64-bit key for ``name`` (its parts joined): stable across processes and hosts."""
    digest = hashlib.blake2b("\x1f".join(("goldband", *name)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def serialize(conn: sqlite3.Connection, *name: str) -> None:
    """Call first inside a write transaction (``Store.transaction()``): on PostgreSQL, wait until no other
    transaction holds ``name``, and hold it until this one ends; on SQLite nothing (``BEGIN IMMEDIATE`` did
    it). Always take one name per transaction, or several in one fixed order, so two never wait on each other."""
    if is_postgres(conn):
        conn.execute("SELECT pg_advisory_xact_lock(?)", [lock_key(*name)])
