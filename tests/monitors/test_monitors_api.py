"""The public surface: lazy imports, a sorted __all__, and docstring examples that run."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

import goldband.monitors as monitors

MODULES = ["goldband.monitors", "goldband.monitors.adwin", "goldband.monitors.page_hinkley",
           "goldband.monitors.ddm", "goldband.monitors.kolmogorov",
           "goldband.monitors.stability", "goldband.monitors.categorical",
           "goldband.monitors.distance", "goldband.monitors.fdr"]


def test_importing_monitors_leaves_numpy_and_scipy_out() -> None:
    code = ("import sys, goldband.monitors as m; m.ADWIN().update(1.0); m.DDM().update(1);"
            "m.PageHinkley().update(1.0); print(sorted(k for k in ('numpy', 'scipy') "
            "if k in sys.modules))")
    # A fresh interpreter: in this process numpy and scipy are loaded already.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_all_is_sorted_and_every_name_resolves() -> None:
    def isort_style(name: str) -> tuple[int, str]:  # ruff RUF022: CONSTANTS, Classes, functions
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert monitors.__all__ == sorted(monitors.__all__, key=isort_style)
    for name in monitors.__all__:
        assert getattr(monitors, name) is not None
    for name in ["ADWIN", "DDM", "PageHinkley", "ks", "psi", "chi2", "wasserstein",
                 "jensen_shannon", "benjamini_hochberg", "DriftResult"]:
        assert name in monitors.__all__
    with pytest.raises(AttributeError, match="no attribute 'kswin'"):
        monitors.kswin  # noqa: B018


@pytest.mark.parametrize("module", MODULES)
def test_every_monitor_module_carries_an_example(module: str) -> None:
    """``--doctest-modules`` runs the examples; this keeps each of these modules having one."""
    found = doctest.DocTestFinder().find(importlib.import_module(module))
    assert sum(len(t.examples) for t in found) > 0
