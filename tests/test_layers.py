"""The package's shape holds: DESIGN.md's layers, no cycles, imports at module top, one exception tree."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import goldband
import goldband.errors as errors

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "goldband"
# Where a function-level import of goldband's own modules buys start-up time: the command line and the
# plugin load their parts when a command or a golden file needs them. Lazy package faces use lazy_exports.
DEFERRED_OK = ("cli/", "plugin/")


def test_the_import_linter_contracts_are_kept() -> None:
    """Layers, forbidden imports and acyclic siblings, as pyproject.toml's [tool.importlinter] states them."""
    out = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                          "sys.exit(lint_imports(no_cache=True, no_logo=True))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "BROKEN" not in out.stdout and out.stdout.count("KEPT") >= 5, out.stdout


def _deferred_imports(path: Path) -> list[str]:
    """``line: module`` for each import of goldband's own modules inside a function body."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("goldband"):
                    found.append(f"{inner.lineno}: {inner.module}")
                elif isinstance(inner, ast.Import):
                    found += [f"{inner.lineno}: {a.name}" for a in inner.names if a.name.startswith("goldband")]
    return found


def test_goldband_modules_are_imported_at_module_top_outside_the_entry_points() -> None:
    """A function-level import of our own module may only buy start-up time (cli, plugin), never hide a cycle."""
    offenders = {str(p.relative_to(SRC)): found for p in sorted(SRC.rglob("*.py"))
                 if not str(p.relative_to(SRC)).startswith(DEFERRED_OK) and (found := _deferred_imports(p))}
    assert offenders == {}


def test_every_goldband_exception_lives_in_errors_and_derives_from_goldband_error() -> None:
    classes = [(p, node.name) for p in sorted(SRC.rglob("*.py")) for node in ast.walk(ast.parse(p.read_text()))
               if isinstance(node, ast.ClassDef) and any(
                   ast.unparse(b).endswith(("Error", "Exception")) for b in node.bases)]
    assert {p.name for p, _ in classes} == {"errors.py"}, classes
    for _, name in classes:
        assert issubclass(getattr(errors, name), errors.GoldbandError), name


def test_the_error_tree_is_drawn_in_the_errors_docstring() -> None:
    doc = errors.__doc__ or ""
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.GoldbandError):
            assert f" {name} " in doc, f"{name} is missing from the tree in goldband/errors.py's docstring"


def isort_style(name: str) -> tuple[int, str]:
    """ruff RUF022's order for ``__all__``: CONSTANTS, Classes, functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_the_public_face_is_sorted_lazy_and_complete() -> None:
    assert goldband.__all__ == sorted(goldband.__all__, key=isort_style)
    for name in goldband.__all__:
        assert getattr(goldband, name) is not None
    assert goldband.run.__module__ == "goldband.session.api"
    code = ("import sys, goldband; print(sorted(m for m in ('goldband.session', 'pydantic', 'numpy', 'scipy', "
            "'litellm', 'openai', 'jsonschema') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("face", ["goldband.monitors", "goldband.monitor", "goldband.watch", "goldband.alerts",
                                  "goldband.checks", "goldband.testing", "goldband.registry"])
def test_every_public_face_has_a_sorted_all(face: str) -> None:
    names = list(__import__(face, fromlist=["__all__"]).__all__)
    assert names == sorted(names, key=isort_style), face
