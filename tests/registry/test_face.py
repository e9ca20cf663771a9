"""``goldband.registry`` is a public face: its names resolve, and importing it loads none of its parts."""

from __future__ import annotations

import subprocess
import sys

import goldband
import goldband.registry as face
from goldband.errors import RegistryError
from goldband.registry.gate import run_gate
from goldband.registry.loop import rollback
from goldband.registry.registry import Registry


def test_the_names_resolve_to_the_modules_that_define_them() -> None:
    assert [getattr(face, name) is not None for name in face.__all__] == [True] * len(face.__all__)
    assert (face.Registry, face.run_gate, face.rollback, face.RegistryError) == (Registry, run_gate, rollback,
                                                                                 RegistryError)
    assert goldband.RegistryError is RegistryError


def test_importing_the_face_loads_no_part() -> None:
    code = ("import sys, goldband.registry; print(sorted(m for m in sys.modules if m.startswith("
            "('goldband.registry.', 'goldband.store', 'sqlite_utils', 'numpy', 'sklearn'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
