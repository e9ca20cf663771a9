"""The report's inline SVG plots: well-formed, escaped, and a trend a reader can read (axes, hover, markers)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from goldband.report import svg

NS = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # raises on anything not well-formed (e.g. an unescaped note)


def circles(root: ET.Element) -> dict[str, float]:
    """Hover title -> x of each dot."""
    return {c.findtext(f"{NS}title") or "": float(c.get("cx") or 0) for c in root.iter(f"{NS}circle")}


def test_a_trend_has_axes_hover_titles_and_a_marker_where_the_version_changed() -> None:
    chart = parse(svg.trend(
        {"pass rate": [("r1", 0.5), ("r2", 0.8), ("r3", 1.0)], "error rate": [("r2", 0.1), ("r3", 0.0)]},
        order=["r1", "r2", "r3"], notes={"r1": "2026-11-01 12:00 UTC · support version 3"},
        markers=[("r3", "v4", "support version 3 → 4 from run r3")], ends=("2026-11-01", "2026-11-03"), unit="run"))
    texts = [t.text for t in chart.iter(f"{NS}text")]
    assert {"0", "0.5", "1", "2026-11-01", "2026-11-03", "3 runs, oldest → newest", "v4"} <= set(texts)
    dots = circles(chart)
    assert "pass rate 0.500 · r1 · 2026-11-01 12:00 UTC · support version 3" in dots
    assert dots["error rate 0.100 · r2"] == dots["pass rate 0.800 · r2"]  # placed by run, not by index
    (marker,) = [g for g in chart.iter(f"{NS}g") if g.get("class") == "marker"]
    assert marker.findtext(f"{NS}title") == "support version 3 → 4 from run r3"
    x = float(marker.find(f"{NS}line").get("x1") or 0)  # type: ignore[union-attr]
    assert dots["pass rate 0.800 · r2"] < x < dots["pass rate 1.000 · r3"]


def test_trend_text_is_escaped_and_unknown_or_first_markers_are_skipped() -> None:
    chart = svg.trend({"a<b": [("<r1>", 0.2), ("r2", 0.4)]}, order=["<r1>", "r2"], notes={"r2": "</title><script>"},
                      markers=[("<r1>", "v1", "first"), ("nope", "v9", "unknown")], ends=("<", "&"))
    root = parse(chart)
    assert "<script>" not in chart and not [g for g in root.iter(f"{NS}g") if g.get("class") == "marker"]
    assert "a<b 0.400 · r2 · </title><script>" in circles(root)


def test_without_an_order_series_are_right_aligned_as_the_watch_page_draws_them() -> None:
    root = parse(svg.trend({"long": [("t1", 0.1), ("t2", 0.2), ("t3", 0.3)], "short": [("t3", 0.5)]}))
    dots = circles(root)
    assert dots["short 0.500 · t3"] == dots["long 0.300 · t3"] > dots["long 0.200 · t2"]
    assert not [t for t in root.iter(f"{NS}text") if "oldest" in (t.text or "")]  # no unit, no caption


def test_an_empty_trend_still_draws_its_axes() -> None:
    root = parse(svg.trend({}, label="nothing yet"))
    assert root.findtext(f"{NS}title") == "nothing yet" and "0.5" in [t.text for t in root.iter(f"{NS}text")]
