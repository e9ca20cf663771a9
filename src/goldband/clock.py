"""Clocks: the wall clock, and a manual one for tests of cool-downs, windows and late labels.

Anything that decides by the time of day (alert cool-downs, the label watermark
of the concept monitor, the default time of a logged prediction) takes a
``Clock`` instead of calling ``datetime.now`` itself, so tests can move time
by hand::

    >>> from goldband.clock import ManualClock, parse_duration
    >>> clock = ManualClock("2026-01-01T00:00:00+00:00")
    >>> clock.advance(parse_duration("6h")).isoformat()
    '2026-01-01T06:00:00+00:00'
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "format_duration", "iso", "parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


class Clock(Protocol):
    """Something that tells the time (timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (``advance``, ``set``): for tests and simulations."""

    def __init__(self, start: str | datetime = "2026-01-01T00:00:00+00:00") -> None:
        self._now = _aware(datetime.fromisoformat(start) if isinstance(start, str) else start)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, moment: str | datetime) -> None:
        self._now = _aware(datetime.fromisoformat(moment) if isinstance(moment, str) else moment)


def iso(moment: datetime) -> str:
    """A time as the store writes it: UTC, milliseconds."""
    return _aware(moment).astimezone(UTC).isoformat(timespec="milliseconds")


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``"90s"``, ``"15m"``, ``"6h"``, ``"1d"``, ``"2w"`` (or a plain number of seconds).

    >>> parse_duration("1d"), parse_duration("1.5h"), parse_duration(30)
    (86400.0, 5400.0, 30.0)
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"a duration cannot be negative (found {text!r})")
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r} (expected a number and a unit s, m, h, d or w, like '6h')")
    return float(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """The largest whole unit: ``86400 -> '1d'``, ``5400 -> '90m'``."""
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
