"""Importing a user's module:function from the project directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldband._util.imports import import_callable
from goldband.errors import ConfigError


def project(root: Path, answer: str) -> Path:
    root.mkdir()
    (root / "answers_app.py").write_text(f"def answer(x):\n    return {answer!r}\n")
    return root


def test_each_project_gets_its_own_module_of_a_shared_name(tmp_path: Path) -> None:
    """Two projects with the same module name in one process: each call imports its own project's module."""
    a, b = project(tmp_path / "a", "from a"), project(tmp_path / "b", "from b")
    assert import_callable("answers_app:answer", a)(None) == "from a"
    assert import_callable("answers_app:answer", b)(None) == "from b"
    assert import_callable("answers_app:answer", a)(None) == "from a"


def test_an_installed_module_is_not_shadowed_by_a_project_without_it(tmp_path: Path) -> None:
    root = project(tmp_path / "p", "x")
    assert import_callable("json:dumps", root)([1]) == "[1]"


@pytest.mark.parametrize(("ref", "message"), [
    ("no_colon", "expected 'module:function'"),
    ("missing_module_xyz:f", "cannot import module 'missing_module_xyz'"),
    ("answers_app:nope", "has no callable 'nope'"),
])
def test_bad_references_are_config_errors(tmp_path: Path, ref: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        import_callable(ref, project(tmp_path / "p", "x"))
