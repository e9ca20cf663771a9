"""The pytest11 entry point: options, ini keys, and a few thin hooks.

pytest imports this module in every project that has goldband installed, so it
imports only the standard library and pytest. The rest of goldband loads when
the first golden set file is collected.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from goldband import settings as gs

if TYPE_CHECKING:
    from goldband.harness import Harness

SETTINGS_KEY = pytest.StashKey["gs.Settings"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("goldband", "goldband: LLM golden sets")
    for name, (kind, help_text) in gs.OPTIONS.items():
        group.addoption(f"--goldband-{name}", dest=f"goldband_{name}", type=kind, default=None,
                        help=f"{help_text} [env GOLDBAND_{name.upper()}, ini goldband_{name}]")
        parser.addini(f"goldband_{name}", help_text, default=None)
    parser.addini("goldband_paths", "directories whose *.yaml files are golden sets (default: goldensets)",
                  type="paths", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "goldband: a golden-set case run by goldband")
    try:
        config.stash[SETTINGS_KEY] = _settings(config)
    except gs.OptionError as exc:
        raise pytest.UsageError(str(exc)) from None


def _settings(config: pytest.Config) -> gs.Settings:
    values = {name: gs.resolve(name, config.getoption(f"goldband_{name}"), config.getini(f"goldband_{name}"))
              for name in gs.OPTIONS}
    paths = tuple(str(p) for p in config.getini("goldband_paths")) or (str(config.rootpath / "goldensets"),)
    return gs.Settings(
        rootpath=config.rootpath, paths=paths, runs=values["runs"], targets=values["target"],
        mode=values["mode"], concurrency=values["concurrency"], timeout_s=values["timeout"],
        worker=hasattr(config, "workerinput"),
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    """Read goldband.yaml up front when golden sets exist: a bad config is one usage error."""
    settings: gs.Settings = session.config.stash[SETTINGS_KEY]
    if any(Path(p).is_dir() for p in settings.paths):
        _harness(session.config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    settings: gs.Settings = parent.config.stash[SETTINGS_KEY]
    if not any(file_path.is_relative_to(p) for p in settings.paths):
        return None
    from goldband.collect import GoldenFile

    _harness(parent.config)
    return GoldenFile.from_parent(parent, path=file_path)


def _harness(config: pytest.Config) -> Harness:
    """Create the harness at the first golden file; a bad config is a usage error."""
    from goldband.collect import HARNESS_KEY
    from goldband.errors import GoldbandError
    from goldband.harness import Harness

    if HARNESS_KEY not in config.stash:
        try:
            config.stash[HARNESS_KEY] = Harness.create(config.stash[SETTINGS_KEY])
        except GoldbandError as exc:
            raise pytest.UsageError(str(exc)) from None
    return config.stash[HARNESS_KEY]


def _existing_harness(config: pytest.Config) -> Harness | None:
    if "goldband.collect" not in sys.modules:  # no golden file was collected
        return None
    from goldband.collect import HARNESS_KEY

    return config.stash.get(HARNESS_KEY, None)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """After -k/-m/--lf selection: submit every selected item's trials at once."""
    harness = _existing_harness(session.config)
    if harness is None or harness.settings.worker:
        return
    from goldband.collect import GoldenItem
    from goldband.errors import GoldbandError

    items = [(i.nodeid, i.plan) for i in session.items if isinstance(i, GoldenItem)]
    if not items or session.config.option.collectonly:
        return
    try:
        harness.start(items)
    except GoldbandError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    harness = _existing_harness(config)
    if harness is None or not harness.outcomes:
        return
    from goldband.report.terminal import summary_line

    outcomes = harness.outcomes.values()
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.verdict.status] = counts.get(o.verdict.status, 0) + 1
    trials = sum(len(o.trials) for o in outcomes)
    replayed = sum(t.trial.cached for o in outcomes for t in o.trials)
    flaky = sum(o.verdict.status == "PASS" and o.verdict.passes < o.verdict.n for o in outcomes)
    line = summary_line(counts, trials, replayed, time.perf_counter() - harness.started, flaky)
    terminalreporter.write_sep("-", line)


def pytest_unconfigure(config: pytest.Config) -> None:
    harness = _existing_harness(config)
    if harness is not None:
        harness.close()
