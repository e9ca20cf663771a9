"""Hypothesis strategies shared by the interval and decision tests."""

from __future__ import annotations

from hypothesis import strategies as st

METHODS = ["wilson", "clopper-pearson"]
confidences = st.floats(0.5, 0.999)


@st.composite
def counts(draw: st.DrawFn, max_n: int = 400) -> tuple[int, int]:
    n = draw(st.integers(0, max_n))
    return draw(st.integers(0, n)), n
