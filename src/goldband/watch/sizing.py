"""Is a reference large enough for the model's window size, tests and minimum effect?

The rule per test is ``goldband.monitors.sizing.minimum_reference``; here it
is applied to a reference's features (the numeric test for numeric ones,
chi-square with the feature's number of categories for categorical ones),
and the largest minimum is the reference's. ``goldband monitor reference``
prints the warning at registration, ``goldband monitor check`` reports it as
a problem of the model, and ``goldband monitor status`` shows it beside the
reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from goldband.monitors.sizing import Sizing, minimum_reference

if TYPE_CHECKING:
    from goldband.config.monitors import ModelMonitorConfig
    from goldband.watch.reference import Reference

__all__ = ["reference_minimum", "reference_warning", "size_warning"]


def reference_minimum(features: Mapping[str, str], levels: Mapping[str, int], cfg: ModelMonitorConfig,
                      window: int, classes: int | None = None) -> tuple[str, Sizing] | None:
    """The feature (or ``prediction``, with ``classes``) whose test needs the largest reference, and its sizing."""
    found: list[tuple[str, Sizing]] = []
    if classes and classes > 1:  # the predicted classes are compared with chi-square too
        found.append(("prediction", minimum_reference("chi2", window=window, alpha=cfg.alpha,
                                                      min_effect=cfg.effect_floor("chi2"), levels=classes)))
    for name, kind in features.items():
        if kind == "numeric":
            test = cfg.numeric_test
            found.append((name, minimum_reference(test, window=window, alpha=cfg.alpha,
                                                  min_effect=cfg.effect_floor(test), bins=cfg.bins)))
        else:
            found.append((name, minimum_reference("chi2", window=window, alpha=cfg.alpha,
                                                  min_effect=cfg.effect_floor("chi2"), levels=levels.get(name, 2))))
    if not found:
        return None
    return max(found, key=lambda pair: float("inf") if pair[1].minimum is None else pair[1].minimum)


def size_warning(rows: int, features: Mapping[str, str], levels: Mapping[str, int], cfg: ModelMonitorConfig,
                 window: int, classes: int | None = None) -> str | None:
    """One line when a reference of ``rows`` rows is too small for windows of ``window`` rows, else None."""
    worst = reference_minimum(features, levels, cfg, window, classes)
    if worst is None or not worst[1].short(rows):
        return None
    name, sizing = worst
    if sizing.minimum is None:
        return f"reference of {rows:,} rows: {sizing.reason} ({_what(name)})"
    return (f"the reference has {rows:,} rows; {_what(name)} ({sizing.test}, window {window:,}, min_effect "
            f"{cfg.effect_floor(sizing.test):g}) needs at least {sizing.minimum:,} ({sizing.reason}): with fewer, "
            "the drift tests flag unchanged windows or miss changes of min_effect; register a larger reference "
            "(or use larger windows or a larger min_effect)")


def reference_warning(ref: Reference, cfg: ModelMonitorConfig, window: int | None = None) -> str | None:
    """``size_warning`` for a loaded reference under ``cfg``: windows of ``cfg.window`` rows, or of ``window``
    rows for calendar windows (the rows a period holds; no warning before one is known)."""
    rows = cfg.window_rows or window
    return None if rows is None else size_warning(ref.rows, ref.spec.features, ref.spec.levels, cfg, rows,
                                                  ref.spec.classes)


def _what(name: str) -> str:
    return "the predicted classes" if name == "prediction" else f"feature {name!r}"
