"""The examples in the monitor and alert docstrings run, and the public names import lazily."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("package", ["goldband.monitor", "goldband.alerts"])
def test_public_names_resolve_and_the_package_imports_light(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None
    code = (f"import sys, {package}; print([m for m in ('numpy', 'scipy', 'sqlite_utils', 'jinja2') "
            "if m in sys.modules])")
    # A fresh interpreter: in this process these modules are loaded already.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readme_logging_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "PredictionLogger" in b]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(block + "\nlog.close()\n", "README.md", "exec"), namespace)
    # SQLite only: the example as the README prints it, into its default store file
    from goldband.store import open_store

    with open_store(tmp_path / ".goldband" / "store.db") as store:
        assert store.conn.execute("SELECT COUNT(*) FROM monitor_labels").fetchone()[0] == 1
        assert store.conn.execute("SELECT version FROM monitor_predictions").fetchone()[0] == "3"


DOCS = Path(__file__).resolve().parents[2] / "docs" / "monitor.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)


def test_the_docs_configuration_examples_validate() -> None:
    import yaml

    from goldband.config.alerts import AlertsConfig
    from goldband.config.monitors import MonitorsConfig

    sections = [yaml.safe_load(block) for block in _blocks("yaml")]
    alerts = [s["alerts"] for s in sections if isinstance(s.get("alerts"), dict)]
    monitors = [s["monitors"] for s in sections if "monitors" in s]
    assert alerts and monitors, "docs/monitor.md should show both sections"
    for section in alerts:
        assert AlertsConfig.model_validate(section).effective_rules()
    for section in monitors:
        assert MonitorsConfig.model_validate(section).models


def test_the_docs_saved_detector_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = [b for b in _blocks("python") if "save_detector" in b]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(block, "docs/monitor.md", "exec"), namespace)  # SQLite only: as printed, its default store file
    from goldband.store import open_store
    from goldband.watch import load_detector

    with open_store(tmp_path / ".goldband" / "store.db") as store:
        restored = load_detector(store, "latency-p95")
    assert restored is not None and restored.get_state() == namespace["adwin"].get_state()  # type: ignore[attr-defined]
