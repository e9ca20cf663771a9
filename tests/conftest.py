"""Shared fixtures for goldband's own tests."""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from goldband.testing import FakeOpenAI

pytest_plugins = ["pgkit"]  # the session fixture `postgres`: a real PostgreSQL server (tests/pgkit.py)

# Variables a CI runner or a user's shell sets that change what goldband does (the lock is strict when CI is set,
# a run id is derived from GITHUB_RUN_ID, ...). Tests that need one set it themselves.
RUNNER_PREFIXES = ("GITHUB_", "GOLDBAND_")
RUNNER_KEEP = ("GOLDBAND_REQUIRE_POSTGRES",)


@pytest.fixture(autouse=True)
def hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees the same environment locally and on a CI runner (a test once passed only without CI)."""
    monkeypatch.delenv("CI", raising=False)
    for name in list(os.environ):
        if name.startswith(RUNNER_PREFIXES) and name not in RUNNER_KEEP:
            monkeypatch.delenv(name)


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


# What a golden-set run imports at run time (goldband loads itself lazily), what its warm-up thread imports,
# and what the hypothesis plugin imports at the end of every pytest run.
RUN_TIME_MODULES = ("goldband.plugin.collect", "goldband.session.session", "goldband.bands.decide",
                    "goldband.bands.sprt", "jinja2", "jsonschema", "openai", "aiohttp", "scipy.stats",
                    "hypothesis.internal.observability")


@pytest.fixture(scope="session")
def run_time_modules() -> None:
    """Import RUN_TIME_MODULES once, before any pytester exists (pytester drops what is imported while it lives)."""
    for name in RUN_TIME_MODULES:
        importlib.import_module(name)


@pytest.fixture
def pytester(run_time_modules: None, pytester: pytest.Pytester) -> pytest.Pytester:
    """pytester, with what a golden-set run loads already loaded in this process.

    An in-process run (``pytester.runpytest``) drops every module it imported from ``sys.modules`` when it
    ends. Without this, each run would import goldband's session, jinja2, jsonschema, openai and hypothesis
    again (a second or more); goldband's module-level caches (the jinja2 environment in engine/targets.py)
    would outlive the modules they were built from, so the next run would catch the wrong jinja2 errors; and
    the plugin's warm-up thread (session/session.py) could still be importing openai when a run ends, leaving
    the next run a half-imported module.
    """
    return pytester
