"""Fixtures the registry tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from goldband.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A new, empty store file (every migration applied), closed after the test."""
    with open_store(tmp_path / "store.db") as opened:
        yield opened
