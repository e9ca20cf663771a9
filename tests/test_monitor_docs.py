"""The examples in the monitor and alert docstrings run, and the public names import lazily."""

from __future__ import annotations

import doctest
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

MODULES = ["goldband.clock", "goldband.monitor.log", "goldband.monitor.stream"]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted and not result.failed


@pytest.mark.parametrize("package", ["goldband.monitor", "goldband.alerts"])
def test_public_names_resolve_and_the_package_imports_light(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None
    code = (f"import sys, {package}; print([m for m in ('numpy', 'scipy', 'sqlite_utils', 'jinja2') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readme_logging_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "PredictionLogger" in b]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(block + "\nlog.close()\n", "README.md", "exec"), namespace)
    from goldband.store import open_store

    with open_store(tmp_path / ".goldband" / "store.db") as store:
        assert store.conn.execute("SELECT COUNT(*) FROM monitor_labels").fetchone()[0] == 1
        assert store.conn.execute("SELECT version FROM monitor_predictions").fetchone()[0] == "3"
