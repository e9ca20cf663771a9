"""The pytest11 entry point: options, ini keys, and a few thin hooks.

pytest imports this module in every project that has goldband installed, so it
imports only the standard library and pytest. The rest of goldband loads when
the first golden set file is collected.
"""

from __future__ import annotations

import contextlib
import gc
import json
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from goldband.config import settings as gs
from goldband.errors import OptionError
from goldband.plugin.state import ASIDE_KEY, SESSION_KEY, SETTINGS_KEY, existing_session

if TYPE_CHECKING:
    from goldband.session.session import Session



def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("goldband", "goldband: LLM golden sets")
    for name, (kind, help_text) in gs.OPTIONS.items():
        key = gs.key(name)
        how: dict[str, Any] = {"action": "store_const", "const": True} if name in gs.FLAGS else {"type": kind}
        group.addoption(f"--goldband-{name}", dest=f"goldband_{key}", default=None,
                        help=f"{help_text} [env GOLDBAND_{key.upper()}, ini goldband_{key}]", **how)
        parser.addini(f"goldband_{key}", help_text, default=None)
    parser.addini("goldband_paths", "directories whose *.yaml files are golden sets (default: goldensets)",
                  type="paths", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "goldband: a golden-set case run by goldband")
    try:
        _set_xdist_aside(config)
        config.stash[SETTINGS_KEY] = _settings(config)
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None


def _set_xdist_aside(config: pytest.Config) -> None:
    """``-n N`` over golden sets only: no workers (``goldband.plugin.xdist``, IN_PROCESS); before xdist's own
    pytest_configure (trylast) starts them; the session's start says so."""
    workers = config.getoption("numprocesses", default=None)
    if not workers or hasattr(config, "workerinput") or config.getoption("dist", default="no") == "no":
        return
    if gs.resolve("xdist", config.getoption("goldband_xdist"), config.getini("goldband_xdist")) == "use":
        return
    from goldband.plugin.xdist import IN_PROCESS, golden_only

    if not golden_only(config.args, config.invocation_params.dir, _golden_paths(config)):
        return
    config.option.numprocesses, config.option.dist, config.option.tx = 0, "no", []
    config.stash[ASIDE_KEY] = IN_PROCESS.format(workers=workers)


def _golden_paths(config: pytest.Config) -> tuple[str, ...]:
    return tuple(str(p) for p in config.getini("goldband_paths")) or (str(config.rootpath / "goldensets"),)


def _settings(config: pytest.Config) -> gs.Settings:
    values = {name: gs.resolve(name, config.getoption(f"goldband_{gs.key(name)}"),
                               config.getini(f"goldband_{gs.key(name)}"))
              for name in gs.OPTIONS}
    return gs.Settings(
        rootpath=config.rootpath, paths=_golden_paths(config), runs=values["runs"], targets=values["target"],
        mode=values["mode"], concurrency=values["concurrency"], timeout_s=values["timeout"],
        worker=hasattr(config, "workerinput"), workers=int(getattr(config, "workerinput", {}).get("workercount", 1)),
        budget=values["budget"], band=values["band"],
        inconclusive=values["inconclusive"], baseline=values["baseline"],
        store=values["store"], report=values["report"], kind=values["kind"], resume=values["resume"],
        command=shlex.join(["pytest", *config.invocation_params.args]), shared_run=_shared_run(config),
        controller=not hasattr(config, "workerinput") and config.getoption("dist", default="no") != "no",
        judge_gate=values["judge-gate"], judge_max_errors=values["judge-max-errors"],
        draft=values["draft"], strict=values["strict"], shard=values["shard"], run_id=values["run-id"],
        environment=values["environment"],
    )


def _shared_run(config: pytest.Config) -> dict[str, Any] | None:
    """On an xdist worker: the run its controller started (see pytest_configure_node)."""
    raw = getattr(config, "workerinput", {}).get("goldband_run")
    return json.loads(raw) if raw else None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: every worker records into this session's one run, and learns how items are handed out
    (a worker's own ``dist`` option reads "no")."""
    node.workerinput["goldband_dist"] = node.config.getoption("dist")
    run = existing_session(node.config)
    if run is not None:
        node.workerinput["goldband_run"] = json.dumps(run.recorder.shared_info())


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # before xdist's own, which always answers
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist controller: under ``--dist load`` each worker gets its golden items as one share
    (``goldband.plugin.xdist``), so it can keep the run's requests in flight; say when a mode cannot."""
    if existing_session(config) is None:
        return None
    from goldband.plugin import xdist

    mode = config.getoption("dist")
    if mode in xdist.SLOW_MODES:
        config.get_terminal_writer().line(xdist.SLOW_MESSAGE.format(mode=mode), yellow=True)
    return xdist.scheduler(config, log)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Read goldband.yaml up front when golden sets exist: a bad config is one usage error."""
    if aside := session.config.stash.get(ASIDE_KEY, None):
        session.config.get_terminal_writer().line(aside, yellow=True)
    settings: gs.Settings = session.config.stash[SETTINGS_KEY]
    if any(Path(p).is_dir() for p in settings.paths):
        run = _session(session.config)
        if settings.resume and not settings.worker:
            _stop_if_complete(run, settings.resume)
        if session.config.pluginmanager.has_plugin("dsession"):  # xdist controller: check the store now
            _preflight(run)


def _stop_if_complete(run: Session, ref: str) -> None:
    """``--goldband-resume`` of a complete run: say so and stop before anything runs or is written."""
    from goldband.session.resume import complete_run, nothing_to_resume

    if (done := complete_run(run.store.path, ref)) is not None:
        pytest.exit(f"goldband: {nothing_to_resume(done)}", returncode=0)


def _preflight(run: Session) -> None:
    from goldband.errors import GoldbandError

    try:
        run.recorder.preflight()
    except GoldbandError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    settings: gs.Settings = parent.config.stash[SETTINGS_KEY]
    if not any(file_path.is_relative_to(p) for p in settings.paths):
        return None
    from goldband.plugin.collect import GoldenFile

    _session(parent.config)
    return GoldenFile.from_parent(parent, path=file_path)


def _session(config: pytest.Config) -> Session:
    """Create the goldband session at the first golden file; a bad config is a usage error."""
    from goldband.errors import GoldbandError
    from goldband.session.session import Session

    if SESSION_KEY not in config.stash:
        try:
            # outcomes without completions: the store and the reports keep those (issue 14)
            config.stash[SESSION_KEY] = Session.create(config.stash[SETTINGS_KEY], keep_outputs=False)
        except GoldbandError as exc:
            raise pytest.UsageError(str(exc)) from None
    return config.stash[SESSION_KEY]


@pytest.hookimpl(trylast=True)  # after -k, -m and the other plugins' selection
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--goldband-shard i/K``: keep this shard's share of the golden items (``goldband.session.shards``);
    the others are reported as deselected. Other tests stay (pytest-shard or pytest-split divide those)."""
    settings: gs.Settings = config.stash[SETTINGS_KEY]
    if settings.shard is None or existing_session(config) is None:
        return
    from goldband.plugin.collect import GoldenItem
    from goldband.session.shards import selected

    golden = [i for i in items if isinstance(i, GoldenItem)]
    keep = selected([((i.plan.goldenset, i.plan.case.id, i.plan.target.name), i.plan.runs.min) for i in golden],
                    settings.shard)
    dropped = {id(item) for item, kept in zip(golden, keep, strict=True) if not kept}
    if dropped:
        config.hook.pytest_deselected(items=[i for i in items if id(i) in dropped])
        items[:] = [i for i in items if id(i) not in dropped]


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """After -k/-m/--lf selection: submit every selected item's trials at once."""
    run = existing_session(session.config)
    if run is None:
        return
    from goldband.errors import GoldbandError
    from goldband.plugin.collect import GoldenItem

    items = [(i.nodeid, i.plan) for i in session.items if isinstance(i, GoldenItem)]
    if session.config.option.collectonly or _aborting(session):
        return
    if not items and run.settings.shard is None:
        return
    try:
        if run.settings.worker:  # xdist: record the selection; a share's items start when its first arrives
            _register_on_worker(run, items, session.config)
        else:
            run.start(items)
    except GoldbandError as exc:
        raise pytest.UsageError(str(exc)) from None
    gc.freeze()  # start-up's objects live to the end: later collections need not walk them again


def _register_on_worker(run: Session, items: list[Any], config: pytest.Config) -> None:
    """Group the items into the units xdist sends this worker together (``goldband.plugin.xdist``); a worker
    cannot stop the session cleanly: a store problem fails each of its items instead."""
    from goldband.errors import GoldbandError
    from goldband.plugin.xdist import units

    mode = getattr(config, "workerinput", {}).get("goldband_dist", "load")
    run.group(items, units([nodeid for nodeid, _ in items], run.settings.workers, mode))
    with contextlib.suppress(GoldbandError):  # kept by the recorder; every item of this worker reports it
        run.register(items)


def _aborting(session: pytest.Session) -> bool:
    """pytest stops before running anything after a collection error: spend no calls, record no run."""
    return bool(session.testsfailed) and not session.config.option.continue_on_collection_errors


@pytest.hookimpl(tryfirst=True)  # before junitxml writes its file: the set gates are testcases in it
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Compare with --goldband-baseline (significant regressions fail the run), then flush the
    store; the controller marks the run finished, writes its reports and adds its set gates to the JUnit XML."""
    run = existing_session(session.config)
    if run is not None:
        if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and run.recorder.shard is not None:
            session.exitstatus = pytest.ExitCode.OK  # an empty share (more shards than items) is not a failure
        session.exitstatus = run.session_finished(int(session.exitstatus))
        _junit_set_gates(session.config, run)
        if hasattr(session.config, "workeroutput"):  # xdist worker: its lost writes fail the controller's run
            session.config.workeroutput.update(run.recorder.worker_output())


def _junit_set_gates(config: pytest.Config, run: Session) -> None:
    """``--junitxml``: each set gate as a testcase (``Session.junit_reports``), which CI test views show."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is not None:
        for report in run.junit_reports():
            xml.pytest_runtest_logreport(report)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: a worker finished; count the writes its store lost (see pytest_sessionfinish)."""
    run = existing_session(node.config)
    output = getattr(node, "workeroutput", None) or {}
    if run is not None and output.get("goldband_lost_writes"):
        run.recorder.write_failed(int(output["goldband_lost_writes"]), list(output.get("goldband_write_errors", [])))


def pytest_report_collectionfinish(config: pytest.Config, start_path: Path, items: list[pytest.Item]) -> list[str]:
    """Say up front, under "collected N items", which golden sets run as drafts (changed under their version,
    ``goldband.golden.lock``); the summary says it again at the end."""
    run = existing_session(config)
    return [d.message for d in run.planner.drafts.values()] if run is not None else []


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = existing_session(config)
    if run is None:
        return
    seconds = time.perf_counter() - run.started
    for text, alarm in run.summary_lines(seconds, verbose=config.get_verbosity() > 1):
        if alarm is None:
            terminalreporter.write_line(text)
        else:
            terminalreporter.write_sep("!" if alarm else "-", text, red=alarm)


_STATUS_WORDS = {"INCONCLUSIVE": ("?", {"yellow": True}), "ERROR": ("E", {"red": True}),
                 "QUARANTINED": ("q", {"yellow": True})}


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """Show INCONCLUSIVE, ERROR and QUARANTINED verdicts by name; pass/fail counts stay pytest's."""
    if report.when != "call":
        return None
    props = dict(report.user_properties)
    status = props.get("goldband_verdict")
    if props.get("goldband_set_gated") == "true" and status != "PASS":  # ``cases: report``: the set gates it
        return report.outcome, "f", (f"{status} (the set gates)", {"yellow": True})
    if status not in _STATUS_WORDS and props.get("goldband_gating", "true") == "true":
        return None
    letter, markup = _STATUS_WORDS.get(str(status), ("s", {"yellow": True}))
    word = str(status) if props.get("goldband_gating", "true") == "true" else f"{status} (not gating)"
    return report.outcome, letter, (word, markup)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = existing_session(config)
    if run is not None:
        run.close()
        gc.freeze()  # all flushed: pytest's cleanup gc.collect() and the final collections skip this heap
