"""Fixtures the registry tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from goldband.store import Store, open_store


@pytest.fixture
def store(store_at: str) -> Iterator[Store]:
    """A new, empty store (every migration applied) on each backend: an SQLite file, then a PostgreSQL
    database; closed after the test."""
    with open_store(store_at) as opened:
        yield opened
