"""Shared fixtures for goldband's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from goldband.testing import FakeOpenAI


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    """A started loopback OpenAI-compatible server; stopped after the test."""
    from goldband.testing import FakeOpenAI

    with FakeOpenAI() as server:
        yield server
