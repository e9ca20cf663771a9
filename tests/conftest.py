"""Shared fixtures for goldband's own tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
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


ROOT = Path(__file__).resolve().parent.parent
DEMO = ("goldensets", "prompts", "schemas", "cassettes", "rubrics")


@pytest.fixture
def demo_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the bundled example project, with no goldband settings leaking in from the environment."""
    for name in DEMO:
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "goldband.yaml", tmp_path / "goldband.yaml")
    for name in ("CI", "GOLDBAND_STORE", "GOLDBAND_REPORT", "GOLDBAND_KIND", "GOLDBAND_RESUME", "GOLDBAND_MODE",
                 "GOLDBAND_RUNS", "GOLDBAND_TARGET"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
