"""Small inline SVG plots for the HTML report (no scripts, no external files).

Every number is formatted here and every piece of text is escaped here, so
the result can be inserted into the page as markup. Axes are fixed to [0, 1]
(pass rates and scores), which keeps plots comparable across cases and runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape as _html_escape

from markupsafe import Markup

from goldband.report.escape import visible


def escape(text: str) -> str:
    """Text for an SVG attribute or element: HTML-escaped, control and bidi characters made visible."""
    return _html_escape(visible(text))

PASS, FAIL, INK, MUTED, GRID = "#2e7d32", "#c62828", "#37474f", "#b0bec5", "#eceff1"
SERIES_COLOURS = ("#1565c0", "#6a1b9a", "#ef6c00")


def _svg(width: int, height: int, body: str, label: str) -> Markup:
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                  f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
                  f'<title>{escape(label)}</title>{body}</svg>')


def _x(value: float, width: float, pad: float = 2) -> float:
    return pad + max(0.0, min(1.0, value)) * (width - 2 * pad)


def interval(point: float | None, low: float | None, high: float | None, bar: float | None, *,
             width: int = 120, height: int = 16, label: str = "") -> Markup:
    """A pass-rate interval on [0, 1]: the band's bar as a tick, the interval as a line, the rate as a dot.
    Drawn once per case: styled by report.css's ``.case-plot`` rules, not per-element attributes."""
    mid = f"{height / 2:.1f}"
    parts = [f'<line class="axis" x1="{_x(0, width):.1f}" y1="{mid}" x2="{_x(1, width):.1f}" y2="{mid}"/>']
    if bar is not None:
        x = f"{_x(bar, width):.1f}"
        parts.append(f'<line class="bar" x1="{x}" y1="1" x2="{x}" y2="{height - 1}"/>')
    if low is not None and high is not None:
        kind = "pass" if bar is None or low >= bar else "fail" if high < bar else "open"
        parts.append(f'<line class="ci {kind}" x1="{_x(low, width):.1f}" y1="{mid}" x2="{_x(high, width):.1f}" '
                     f'y2="{mid}"/>')
    if point is not None:
        parts.append(f'<circle class="rate" cx="{_x(point, width):.1f}" cy="{mid}" r="3"/>')
    return _case_svg(width, height, "".join(parts), label)


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


@dataclass(frozen=True)
class _Frame:
    """The plot area of a chart on [0, 1]: margins leave room for the axes' labels."""

    x0: float
    x1: float
    y0: float
    y1: float

    def x(self, i: float, n: int) -> float:
        return self.x0 + i / (n - 1) * (self.x1 - self.x0) if n > 1 else (self.x0 + self.x1) / 2

    def y(self, value: float) -> float:
        return self.y0 + (1 - max(0.0, min(1.0, value))) * (self.y1 - self.y0)


def trend(series: Mapping[str, Sequence[tuple[str, float]]], *, width: int = 320, height: int = 110,
          label: str = "trend", order: Sequence[str] | None = None, notes: Mapping[str, str] | None = None,
          markers: Sequence[tuple[str, str, str]] = (), ends: tuple[str, str] | None = None,
          unit: str | None = None) -> Markup:
    """Lines over runs on [0, 1] with axes: y ticks at 0, 0.5 and 1; x from oldest to newest.

    ``series`` maps a name to (key, value) points, oldest first. A point's x is its key's place
    in ``order``; without one the series are right-aligned, newest last. Hovering a dot shows the
    series, value, key and ``notes[key]`` (e.g. the run's time and golden set version).
    ``markers`` are (key, label, hover text): a dashed line just before that key's point, e.g.
    where the golden set's version changed. ``ends`` labels the two ends of the x axis (dates);
    ``unit`` names what a point is (``run``) for the x axis' caption, ``3 runs, oldest → newest``.
    """
    longest = max((len(points) for points in series.values()), default=0)
    keys = list(order) if order is not None else next((_keys(p) for p in series.values() if len(p) == longest), [])
    n = len(keys) if order is not None else longest
    frame = _Frame(26.0, width - 8.0, 14.0, height - 30.0)
    parts = [_axes(frame, n, ends, unit)]
    parts += [_marker(frame, keys.index(key), n, text, title) for key, text, title in markers if key in keys[1:]]
    place = {key: i for i, key in enumerate(keys)} if order is not None else None
    for k, (name, points) in enumerate(series.items()):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        drawn = [(frame.x(i, n), frame.y(v), key, v) for i, (key, v) in zip(_places(points, place, longest), points,
                                                                             strict=True) if i is not None]
        parts.append(_line(drawn, name, colour, notes or {}))
        parts.append(f'<text x="{frame.x0 + k * 100:.0f}" y="{height - 3}" font-size="9" fill="{colour}">'
                     f'{escape(name)}</text>')
    return _svg(width, height, "".join(parts), label)


def _keys(points: Sequence[tuple[str, float]]) -> list[str]:
    return [key for key, _ in points]


def _places(points: Sequence[tuple[str, float]], place: Mapping[str, int] | None, longest: int) -> list[int | None]:
    """Each point's x index: its key's place in the order (None: not in it), or right-aligned without one."""
    if place is not None:
        return [place.get(key) for key, _ in points]
    return [longest - len(points) + i for i in range(len(points))]


def _axes(frame: _Frame, n: int, ends: tuple[str, str] | None, unit: str | None) -> str:
    """Grid lines and labels at 0, 0.5 and 1; the x axis with its ends and how many points it spans."""
    parts = []
    for tick, text in ((0.0, "0"), (0.5, "0.5"), (1.0, "1")):
        y = frame.y(tick)
        parts.append(f'<line x1="{frame.x0:.1f}" y1="{y:.1f}" x2="{frame.x1:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                     f'<text x="{frame.x0 - 3:.1f}" y="{y + 3:.1f}" font-size="9" fill="{INK}" '
                     f'text-anchor="end">{text}</text>')
    parts.append(f'<line x1="{frame.x0:.1f}" y1="{frame.y0:.1f}" x2="{frame.x0:.1f}" y2="{frame.y1:.1f}" '
                 f'stroke="{MUTED}"/><line x1="{frame.x0:.1f}" y1="{frame.y1:.1f}" x2="{frame.x1:.1f}" '
                 f'y2="{frame.y1:.1f}" stroke="{MUTED}"/>')
    below = frame.y1 + 11
    if unit is not None:
        parts.append(f'<text x="{(frame.x0 + frame.x1) / 2:.1f}" y="{below:.1f}" font-size="9" fill="{INK}" '
                     f'text-anchor="middle">{n} {escape(unit)}{"" if n == 1 else "s"}, oldest \u2192 newest</text>')
    if ends is not None:
        parts.append(f'<text x="{frame.x0:.1f}" y="{below:.1f}" font-size="9" fill="{INK}">{escape(ends[0])}</text>'
                     f'<text x="{frame.x1:.1f}" y="{below:.1f}" font-size="9" fill="{INK}" text-anchor="end">'
                     f'{escape(ends[1])}</text>')
    return "".join(parts)


def _marker(frame: _Frame, i: int, n: int, text: str, title: str) -> str:
    """A dashed vertical line between point ``i - 1`` and point ``i``, labelled above the plot."""
    x = frame.x(i - 0.5, n)
    return (f'<g class="marker"><title>{escape(title)}</title><line x1="{x:.1f}" y1="{frame.y0:.1f}" x2="{x:.1f}" '
            f'y2="{frame.y1:.1f}" stroke="{INK}" stroke-dasharray="3,2"/><text x="{x:.1f}" y="{frame.y0 - 4:.1f}" '
            f'font-size="9" fill="{INK}" text-anchor="middle">{escape(text)}</text></g>')


def _line(drawn: Sequence[tuple[float, float, str, float]], name: str, colour: str, notes: Mapping[str, str]) -> str:
    """One series: its polyline and a dot per point whose title is what hovering shows."""
    parts = []
    if len(drawn) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in drawn)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    for x, y, key, v in drawn:
        note = f" \u00b7 {notes[key]}" if key in notes else ""
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"><title>{escape(name)} {v:.3f} '
                     f'\u00b7 {escape(key)}{escape(note)}</title></circle>')
    return "".join(parts)


def strip(scores: Sequence[float | None], outcomes: Sequence[str], *, width: int = 120, height: int = 16,
          label: str = "trial scores") -> Markup:
    """One dot per trial at its score on [0, 1], coloured by outcome (errors at 0, hollow)."""
    mid = f"{height / 2:.1f}"
    dots = [f'<circle class="{"pass" if outcome == "pass" else "fail"}{" none" if score is None else ""}" '
            f'cx="{_x(score or 0.0, width, 4):.1f}" cy="{mid}" r="3"/>' for score, outcome in zip(scores, outcomes,
                                                                                                  strict=True)]
    return _case_svg(width, height, f'<line class="axis" x1="4" y1="{mid}" x2="{width - 4}" y2="{mid}"/>'
                     + "".join(dots), label)


def _case_svg(width: int, height: int, body: str, label: str) -> Markup:
    """A plot drawn in every case's row: inline in HTML (no ``xmlns`` needed), named by its ``<title>``."""
    return Markup(f'<svg class="case-plot" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
                  f'role="img"><title>{escape(label)}</title>{body}</svg>')

