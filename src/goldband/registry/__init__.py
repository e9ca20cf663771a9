"""The closed loop: model registry, evaluation gate, retrain pipeline and rollback.

A serving process asks the registry what to load, at start-up or on a refresh;
``resolve`` re-hashes the artifact and refuses one that changed since it was
registered::

    >>> import pathlib, tempfile
    >>> from goldband.registry import Registry
    >>> from goldband.store import open_store
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "model.bin").write_bytes(b"weights")
    >>> with open_store(root / ".goldband" / "store.db") as store:
    ...     registry = Registry(store, root=root)          # artifacts: .goldband/artifacts/, by sha256
    ...     first = registry.register("churn", artifact="model.bin", reason="the first model")
    ...     _ = registry.promote("churn", first.version, reason="nothing serves yet")
    ...     serving = registry.resolve("churn@production")
    ...     print(serving.ref, serving.path.read_bytes())
    churn:1 b'weights'

``Registry`` also registers, promotes (to production only after a passing
gate, or ``force``, recorded), parks and rolls back, every change an event in
the store. ``run_gate`` gates a candidate against the serving version (the
project's ``goldband.yaml`` ``registry:`` section says how); ``promote`` and
``rollback`` here move the alias *and* switch the monitors' reference and
notify the alert sinks, as the ``goldband registry`` commands do. The retrain
pipeline is ``goldband.registry.pipeline``. Importing this package is cheap:
the parts load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from goldband._util.lazy import lazy_exports

if TYPE_CHECKING:
    from goldband.errors import RegistryError
    from goldband.registry.gate import GateOutcome, run_gate
    from goldband.registry.loop import Moved, promote, rollback
    from goldband.registry.registry import PRODUCTION, Registry, Resolved, parse_ref

__all__ = [
    "PRODUCTION",
    "GateOutcome",
    "Moved",
    "Registry",
    "RegistryError",
    "Resolved",
    "parse_ref",
    "promote",
    "rollback",
    "run_gate",
]

_WHERE = {
    **dict.fromkeys(["PRODUCTION", "Registry", "Resolved", "parse_ref"], "registry"),
    **dict.fromkeys(["GateOutcome", "run_gate"], "gate"),
    **dict.fromkeys(["Moved", "promote", "rollback"], "loop"),
    "RegistryError": "goldband.errors",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals(), __all__)
