"""How numbers read in reports and commands: one format each, ``-`` for a missing value.

Standard library only, so the command line can use it without loading the store::

    >>> from goldband.report.fmt import ms, pct, rate, spark, usd
    >>> rate(0.4), pct(0.4), usd(0.0123), ms(1234.5), rate(None)
    ('0.40', '40.0%', '$0.0123', '1,234 ms', '-')
    >>> spark([0.0, 0.5, None, 1.0])
    '▁▄ █'
"""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = "▁▂▃▄▅▆▇█"


def rate(value: float | None) -> str:
    """A rate or score in [0, 1], two decimals."""
    return "-" if value is None else f"{value:.2f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def spark(values: Sequence[float | None]) -> str:
    """A text sparkline of values in [0, 1], one block each; a gap for a missing value."""
    return "".join(" " if v is None else BLOCKS[min(7, max(0, int(v * 7.999)))] for v in values)


def table(rows: list[list[str]], header: list[str], right: set[int] | None = None) -> str:
    """A plain aligned text table."""
    right = right or set()
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
    return "\n".join([line(header), *(line(r) for r in rows)])
