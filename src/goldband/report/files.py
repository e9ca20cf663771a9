"""Writing a run's reports: ``reports/RUN/`` with report.html, summary.md, report.json.

``reports/latest`` points at the newest run rather than holding a copy: a
relative symbolic link ``latest -> RUN``, replaced atomically (a new link under
a temporary name, renamed over the old one), so ``reports/latest/report.html``
and ``cat reports/latest/summary.md >> "$GITHUB_STEP_SUMMARY"`` keep working
for CI. Where the filesystem cannot make a link (Windows without the
privilege, some network or FAT mounts), ``reports/latest/`` is a small
directory instead: ``index.html`` redirecting to ``../RUN/report.html``, a
``RUN`` file naming the run, and a copy of ``summary.md`` (it is small, and CI
steps read it there); the big files are never copied.

Each file is written to a temporary name and renamed, so a reader never sees
half a report. The HTML and JSON are written as they render, case by case
from a lean report (``report.data``): the end of a run holds one case's trials
in memory at a time.

report.json (``goldband-report/2``) lists every trial of a case that did not
cleanly pass; a clean pass (PASS, every trial passing) lists one trial for
each output the page shows (``report.outputs.shown_outputs``), with
``trials_total``, ``trials_omitted`` and the ``show`` command that prints the
rest from the store. At 5,000 cases x 5 runs that is a third of the size of
listing every passing trial again. ``every_trial=True`` (``goldband report
--every-trial``, ``goldband show RUN --json``) lists them all; the head's
``every_trial`` says which was written. Version 1 listed every trial always.

The Markdown links the full report when CI says where it is
(``GOLDBAND_REPORT_URL``, or the GitHub Actions run page; ``report.links``):
the environment is read here, once per render, and nowhere below.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

import orjson

from goldband._version import __version__
from goldband.errors import UsageError
from goldband.report.data import CaseResult, RunReport, case_json, load_report, show_command
from goldband.report.html import write_html
from goldband.report.links import report_link
from goldband.report.markdown import render_markdown
from goldband.report.outputs import OutputGroup, group_outputs, shown_outputs
from goldband.results import ScoredTrial
from goldband.store import SeriesPoint, Store

FORMATS = ("html", "md", "json")
NAMES = {"html": "report.html", "md": "summary.md", "json": "report.json"}
FORMAT_VERSION = "goldband-report/2"
LATEST = "latest"
RUN_FILE = "RUN"  # in a ``latest/`` directory (no link possible): the id of the run it points at
# orjson as ``json.dumps(..., default=str, allow_nan=False)`` after ``finite``: NaN and infinities are
# null, anything else it does not know (dataclasses and dates included) is written as its str()
JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
JSON_CLOSE = "\n]}\n"  # the end of report.json's case list and of the document


def json_head(report: RunReport, *, every_trial: bool = False) -> dict[str, Any]:
    """Everything in report.json but its cases."""
    run = report.run
    return {
        "format": FORMAT_VERSION, "generated_at": report.generated_at, "verdict": report.verdict,
        "every_trial": every_trial,
        "run": dataclasses.asdict(run),
        "goldensets": report.goldensets, "targets": report.targets,
        "counts": dict(report.counts), "trials": report.trials, "cost_usd": report.cost_usd,
        "groups": [{"goldenset": g.goldenset, "target": g.target, "metrics": g.metrics, "counts": dict(g.counts),
                    "trend": {m: [vars(p) for p in pts] for m, pts in g.trend.items()},
                    "set_gate": g.set_gate.to_json() if g.set_gate is not None else None} for g in report.groups],
    }


def write_json(report: RunReport, out: TextIO, *, every_trial: bool = False) -> None:
    """report.json written as it is read: the head's keys one a line, then one case a line, each case's
    trials read from the store only while that case is written."""
    out.write(_json_open(report, every_trial=every_trial))
    for i, case in enumerate(report.cases):
        out.write(_json_case(report.run.id, case, report.trials_of(case), first=i == 0, every_trial=every_trial))
    out.write(JSON_CLOSE)


def _json_open(report: RunReport, *, every_trial: bool) -> str:
    """report.json up to its first case: ``{``, the head's keys one a line, ``"cases": [``."""
    head = json_head(report, every_trial=every_trial)
    return "{\n" + "".join(f"{_dumps(key)}: {_dumps(value)},\n" for key, value in head.items()) + '"cases": ['


def _json_case(run_id: str, case: CaseResult, trials: list[ScoredTrial], *, first: bool, every_trial: bool,
               shown: list[OutputGroup] | None = None) -> str:
    """One case's line: every trial, or (a clean pass, unless ``every_trial``) one for each output shown
    (``shown``: the groups the page shows, when it has already grouped them)."""
    if every_trial or not case.clean_pass:
        listed = trials
    else:
        listed = [g.trials[0] for g in (shown if shown is not None else
                                        shown_outputs(True, group_outputs(trials)))]
    data = case_json(case, listed)
    data["trials_total"], data["trials_omitted"] = len(trials), len(trials) - len(listed)
    if len(listed) < len(trials):
        data["show"] = show_command(run_id, case)
    return ("\n" if first else ",\n") + _dumps(data)


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str, option=JSON_OPTIONS).decode()


def render(report: RunReport, fmt: str, *, store: str = "", environ: Mapping[str, str] | None = None,
           every_trial: bool = False) -> str:
    """One format of the report; ``environ`` (default ``os.environ``) is where the Markdown finds its link."""
    out = io.StringIO()
    _writer(report, fmt, store=store, environ=environ, every_trial=every_trial)(out)
    return out.getvalue()


def _writer(report: RunReport, fmt: str, *, store: str, environ: Mapping[str, str] | None,
            every_trial: bool = False) -> Callable[[TextIO], Any]:
    """What writes one format of the report to an open text file."""
    if fmt == "html":
        return lambda out: write_html(report, out, store=store, version=__version__)
    if fmt == "md":
        link = report_link(os.environ if environ is None else environ)
        return lambda out: out.write(render_markdown(report, html_name=NAMES["html"], link=link))
    return lambda out: write_json(report, out, every_trial=every_trial)


def write_reports(store: Store, run_id: str, out_dir: Path, *, formats: tuple[str, ...] = FORMATS,
                  latest: bool = True, environ: Mapping[str, str] | None = None,
                  every_trial: bool = False, points: list[SeriesPoint] | None = None) -> list[Path]:
    """Render the run's reports into ``out_dir/RUN/`` and point ``out_dir/latest`` at them; return the files.

    ``run_id`` may be any reference ``Store.resolve_run`` takes (an id, a unique prefix, ``latest``).
    The report is loaded lean: the store must stay open (it does, here) while the files are written.
    ``points``: the run's series points, when the caller has just computed them."""
    report = load_report(store, run_id, trials=False, points=points)
    folder = out_dir / report.run.id
    written: dict[str, Path] = {}
    if "html" in formats and "json" in formats and not every_trial:  # one pass: each case's trials read once

        def both(json_out: TextIO) -> None:
            written["html"] = _write(folder / NAMES["html"],
                                     lambda out: _html_and_json(report, out, json_out, store=store.where))

        written["json"] = _write(folder / NAMES["json"], both)
    for fmt in (f for f in formats if f not in written):
        written[fmt] = _write(folder / NAMES[fmt], _writer(report, fmt, store=store.where, environ=environ,
                                                            every_trial=every_trial))
    if latest:
        point_latest(out_dir, report.run.id)
    return [written[fmt] for fmt in formats]


def _html_and_json(report: RunReport, html_out: TextIO, json_out: TextIO, *, store: str) -> None:
    """The page and report.json in one pass over the cases (both list them in ``report.cases`` order): as the
    page renders a case, that case's line of report.json is written from the same trials and output groups."""
    written = iter(range(len(report.cases)))

    def write_case(case: CaseResult, trials: list[ScoredTrial], shown: list[OutputGroup]) -> None:
        json_out.write(_json_case(report.run.id, case, trials, first=next(written) == 0, every_trial=False,
                                  shown=shown))

    json_out.write(_json_open(report, every_trial=False))
    write_html(report, html_out, store=store, version=__version__, on_case=write_case)
    if next(written, None) is not None:
        raise AssertionError("the page did not render every case")
    json_out.write(JSON_CLOSE)


def point_latest(out_dir: Path, run_id: str) -> Path:
    """Make ``out_dir/latest`` name the run ``out_dir/RUN``: a relative link, or a small directory (module
    docstring) where the filesystem makes no link; return it."""
    target = out_dir / LATEST
    try:
        _clear_copy(target)
        _link(out_dir, run_id, target)
    except (OSError, NotImplementedError):
        _redirect(out_dir, run_id, target)
    return target


def _link(out_dir: Path, run_id: str, target: Path) -> None:
    """``target -> run_id`` (relative: the reports folder can move), swapped in by one rename."""
    tmp = out_dir / f".{LATEST}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(run_id, tmp, target_is_directory=True)
    try:
        os.replace(tmp, target)
    except OSError:
        tmp.unlink()
        raise


def _clear_copy(target: Path) -> None:
    """Remove a ``latest/`` directory of ours (an older goldband's copy, or the redirect) so a link can
    take its place; anything else in it is not ours to delete: say so."""
    if target.is_symlink() or not target.is_dir():
        return
    ours = {*NAMES.values(), "index.html", RUN_FILE}
    for path in target.iterdir():
        if path.name in ours or path.name.endswith(".tmp"):
            path.unlink()
    try:
        target.rmdir()
    except OSError as exc:
        raise UsageError(f"cannot point it at the newest run: it holds files goldband did not write "
                         f"({', '.join(sorted(p.name for p in target.iterdir()))})", where=str(target),
                         fix="move those files out of the reports folder") from exc


def _redirect(out_dir: Path, run_id: str, target: Path) -> None:
    """No link possible: ``latest/`` with a redirect page, the run's id, and a copy of its small summary.md."""
    if target.is_symlink():  # a link this filesystem cannot replace
        target.unlink()
    run_dir = out_dir / run_id
    page = f"../{run_id}/{NAMES['html']}"
    _write(target / "index.html", lambda out: out.write(
        f'<!doctype html>\n<meta charset="utf-8">\n<meta http-equiv="refresh" content="0; url={page}">\n'
        f'<title>goldband: latest run {run_id}</title>\n<a href="{page}">run {run_id}</a>\n'))
    _write(target / RUN_FILE, lambda out: out.write(run_id + "\n"))
    summary = run_dir / NAMES["md"]
    if summary.is_file():
        _write(target / NAMES["md"], lambda out: out.write(summary.read_text(encoding="utf-8")))
    for stale in (NAMES["html"], NAMES["json"]):  # an older goldband's full copies would name another run
        with contextlib.suppress(FileNotFoundError):
            (target / stale).unlink()


def _write(path: Path, fill: Callable[[TextIO], Any]) -> Path:
    """``fill`` writes the file under a temporary name, renamed into place when it is done (removed if not)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as out:
            fill(out)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if not isinstance(exc, OSError):
            raise
        raise UsageError(f"cannot write the report: {exc.strerror or exc}", where=str(path),
                         fix="choose a writable directory with --goldband-report, `reports:` in goldband.yaml, "
                             "or `goldband report --out`") from None
    return path
