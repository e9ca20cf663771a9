"""The monitor status as one self-contained HTML page (``goldband monitor status --html``).

Same safety as the run report (``goldband.report.html``): every value goes
through Jinja2 autoescaping (feature names, category values and alert
summaries come from logged data), the page has no script at all, and its
Content Security Policy allows only its own stylesheet by hash.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from goldband._version import __version__
from goldband.errors import UsageError
from goldband.report import svg
from goldband.report.html import csp_hash

if TYPE_CHECKING:
    from goldband.watch.statusview import Status

__all__ = ["render_status_html", "write_status_page"]

ASSETS = Path(__file__).parent / "assets"


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ASSETS), autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=_num, pval=_pval, dclass=_dclass)
    return env


def render_status_html(status: Status) -> str:
    css = (ASSETS / "status.css").read_text(encoding="utf-8")
    plots = [{"error": svg.trend({"error rate": m.error_series}, label=f"error rate of {m.model}"),
              "drift": svg.trend({"features drifted": _drift_share(m)}, label=f"features drifted in {m.model}")}
             for m in status.models]
    eval_plots = [svg.trend({e.metric.replace("_", " "): [(t, v) for t, v in e.values[-60:]]},
                            label=f"{e.metric} of {e.target} on {e.goldenset}") for e in status.evals]
    return _environment().get_template("status.html.j2").render(
        status=status, css=Markup(css), style_hash=csp_hash(css), version=__version__, plots=plots,
        eval_plots=eval_plots)


def write_status_page(status: Status, path: Path) -> Path:
    """Write the page atomically (temporary name, then rename); UsageError when the path is not writable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(render_status_html(status), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write the status page: {exc.strerror or exc}", where=str(path),
                            fix="choose a writable path with --html") from None
    return path


def _drift_share(m: Any) -> list[tuple[str, float]]:
    total = max(1, len((m.reference or {}).get("spec", {}).get("features", {})))
    return [(f"window {h['window']}", len([d for d in h["drifted"] if not _is_output(d)]) / total)
            for h in m.history]


def _is_output(name: str) -> bool:
    return name in ("prediction", "confidence", "low_confidence_share", "collapse")


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.3g}"


def _pval(value: Any) -> str:
    if value is None:
        return "-"
    return "<1e-12" if value < 1e-12 else f"{value:.2g}"


def _dclass(diagnosis: str) -> str:
    return "d-" + "".join(c if c.isalnum() else "-" for c in diagnosis.replace(" + ", "-").replace(",", "")
                          ).replace("--", "-")
