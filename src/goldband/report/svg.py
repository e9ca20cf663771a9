"""Small inline SVG plots for the HTML report (no scripts, no external files).

Every number is formatted here and every piece of text is escaped here, so
the result can be inserted into the page as markup. Axes are fixed to [0, 1]
(pass rates and scores), which keeps plots comparable across cases and runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

PASS, FAIL, INK, MUTED = "#2e7d32", "#c62828", "#37474f", "#b0bec5"
SERIES_COLOURS = ("#1565c0", "#6a1b9a", "#ef6c00")


def _svg(width: int, height: int, body: str, label: str) -> Markup:
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                  f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
                  f'<title>{escape(label)}</title>{body}</svg>')


def _x(value: float, width: float, pad: float = 2) -> float:
    return pad + max(0.0, min(1.0, value)) * (width - 2 * pad)


def interval(point: float | None, low: float | None, high: float | None, bar: float | None, *,
             width: int = 120, height: int = 16, label: str = "") -> Markup:
    """A pass-rate interval on [0, 1]: the band's bar as a tick, the interval as a line, the rate as a dot."""
    parts = [f'<line x1="{_x(0, width):.1f}" y1="{height / 2:.1f}" x2="{_x(1, width):.1f}" y2="{height / 2:.1f}" '
             f'stroke="{MUTED}" stroke-width="1"/>']
    if bar is not None:
        parts.append(f'<line x1="{_x(bar, width):.1f}" y1="1" x2="{_x(bar, width):.1f}" y2="{height - 1}" '
                     f'stroke="{INK}" stroke-dasharray="2,1"/>')
    if low is not None and high is not None:
        colour = PASS if bar is None or low >= bar else FAIL if high < bar else "#f9a825"
        parts.append(f'<line x1="{_x(low, width):.1f}" y1="{height / 2:.1f}" x2="{_x(high, width):.1f}" '
                     f'y2="{height / 2:.1f}" stroke="{colour}" stroke-width="4" stroke-linecap="round"/>')
    if point is not None:
        parts.append(f'<circle cx="{_x(point, width):.1f}" cy="{height / 2:.1f}" r="3" fill="{INK}"/>')
    return _svg(width, height, "".join(parts), label)


def histogram(values: Sequence[float], *, bins: int = 10, width: int = 220, height: int = 70,
              label: str = "score distribution") -> Markup:
    """Counts of values in ``bins`` equal bins over [0, 1]; the last bin includes 1.0."""
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, max(0, int(value * bins)))] += 1
    top = max(counts) or 1
    plot_h, step = height - 14, (width - 4) / bins
    bars = "".join(
        f'<rect x="{2 + i * step:.1f}" y="{2 + plot_h * (1 - c / top):.1f}" width="{step - 1:.1f}" '
        f'height="{plot_h * c / top:.1f}" fill="{SERIES_COLOURS[0]}"><title>{i / bins:.1f}-{(i + 1) / bins:.1f}: '
        f'{c}</title></rect>' for i, c in enumerate(counts))
    axis = (f'<text x="2" y="{height - 2}" font-size="9" fill="{INK}">0</text>'
            f'<text x="{width - 8}" y="{height - 2}" font-size="9" fill="{INK}">1</text>'
            f'<text x="{width / 2 - 20:.0f}" y="{height - 2}" font-size="9" fill="{INK}">n={len(values)}</text>')
    return _svg(width, height, bars + axis, label)


def trend(series: Mapping[str, Sequence[tuple[str, float]]], *, width: int = 320, height: int = 90,
          label: str = "trend") -> Markup:
    """Lines over runs (x: run order, y: [0, 1]); ``series`` maps a name to (run id, value) points."""
    longest = max((len(points) for points in series.values()), default=0)
    plot_h = height - 16
    span = max(1, longest - 1)
    parts = [f'<line x1="2" y1="{2 + plot_h:.1f}" x2="{width - 2}" y2="{2 + plot_h:.1f}" stroke="{MUTED}"/>']
    for k, (name, points) in enumerate(series.items()):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        offset = longest - len(points)
        xy = [(2 + (offset + i) / span * (width - 4) if longest > 1 else width / 2,
               2 + plot_h * (1 - max(0.0, min(1.0, v)))) for i, (_, v) in enumerate(points)]
        if len(xy) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"><title>{escape(run)}: '
                     f'{escape(name)} {v:.3f}</title></circle>' for (x, y), (run, v) in zip(xy, points, strict=True))
        parts.append(f'<text x="{4 + k * 100}" y="{height - 2}" font-size="9" fill="{colour}">{escape(name)}</text>')
    return _svg(width, height, "".join(parts), label)


def strip(scores: Sequence[float | None], outcomes: Sequence[str], *, width: int = 120, height: int = 16,
          label: str = "trial scores") -> Markup:
    """One dot per trial at its score on [0, 1], coloured by outcome (errors at 0, hollow)."""
    dots = []
    for score, outcome in zip(scores, outcomes, strict=True):
        colour = PASS if outcome == "pass" else FAIL
        fill = "none" if score is None else colour
        dots.append(f'<circle cx="{_x(score or 0.0, width, 4):.1f}" cy="{height / 2:.1f}" r="3" fill="{fill}" '
                    f'stroke="{colour}" fill-opacity="0.5"/>')
    axis = (f'<line x1="4" y1="{height / 2:.1f}" x2="{width - 4}" y2="{height / 2:.1f}" stroke="{MUTED}"/>')
    return _svg(width, height, axis + "".join(dots), label)
