"""Writing a run's reports: ``reports/RUN/`` with report.html, summary.md, report.json.

The same three files are copied to ``reports/latest/``, a stable path for CI
(``cat reports/latest/summary.md >> "$GITHUB_STEP_SUMMARY"``). Each file is
written to a temporary name and renamed, so a reader never sees half a report.
The Markdown links the full report when CI says where it is
(``GOLDBAND_REPORT_URL``, or the GitHub Actions run page; ``report.links``):
the environment is read here, once per render, and nowhere below.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from goldband._version import __version__
from goldband.errors import UsageError
from goldband.report.data import RunReport, case_json, load_report
from goldband.report.html import render_html
from goldband.report.links import report_link
from goldband.report.markdown import render_markdown
from goldband.store import Store
from goldband.store.writer import finite

FORMATS = ("html", "md", "json")
NAMES = {"html": "report.html", "md": "summary.md", "json": "report.json"}
FORMAT_VERSION = "goldband-report/1"


def render_json(report: RunReport) -> dict[str, Any]:
    run = report.run
    return {
        "format": FORMAT_VERSION, "generated_at": report.generated_at, "verdict": report.verdict,
        "run": dataclasses.asdict(run),
        "goldensets": report.goldensets, "targets": report.targets,
        "counts": dict(report.counts), "trials": report.trials, "cost_usd": report.cost_usd,
        "groups": [{"goldenset": g.goldenset, "target": g.target, "metrics": g.metrics, "counts": dict(g.counts),
                    "trend": {m: [vars(p) for p in pts] for m, pts in g.trend.items()}} for g in report.groups],
        "cases": [case_json(c) for c in report.cases],
    }


def render(report: RunReport, fmt: str, *, store: str = "", environ: Mapping[str, str] | None = None) -> str:
    """One format of the report; ``environ`` (default ``os.environ``) is where the Markdown finds its link."""
    if fmt == "html":
        return render_html(report, store=store, version=__version__)
    if fmt == "md":
        link = report_link(os.environ if environ is None else environ)
        return render_markdown(report, html_name=NAMES["html"], link=link)
    return json.dumps(finite(render_json(report)), indent=1, ensure_ascii=False, default=str, allow_nan=False) + "\n"


def write_reports(store: Store, run_id: str, out_dir: Path, *, formats: tuple[str, ...] = FORMATS,
                  latest: bool = True, environ: Mapping[str, str] | None = None) -> list[Path]:
    """Render the run's reports into ``out_dir/RUN/`` (and ``out_dir/latest/``); return the files.

    ``run_id`` may be any reference ``Store.resolve_run`` takes (an id, a unique prefix, ``latest``)."""
    report = load_report(store, run_id)
    written = []
    for fmt in formats:
        text = render(report, fmt, store=str(store.path), environ=environ)
        written.append(_write(out_dir / report.run.id / NAMES[fmt], text))
        if latest:
            _write(out_dir / "latest" / NAMES[fmt], text)
    return written


def _write(path: Path, text: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write the report: {exc.strerror or exc}", where=str(path),
                            fix="choose a writable directory with --goldband-report, `reports:` in goldband.yaml, "
                                "or `goldband report --out`") from None
    return path
