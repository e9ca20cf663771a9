"""The streaming-detector protocol: parameters, state, save and restore.

Every streaming detector follows the same shape (after river's ``river/drift``):

* constructor knobs are keyword-only and stored under their own names
  (``detector.delta``); ``params`` returns them as a dict;
* mutable state is private and rebuilt by ``_reset()`` (public: ``reset()``);
* ``update(x)`` feeds one value and returns the detector; ``drift_detected`` is a
  read-only property, true right after the update that detected a change (the
  next update starts a fresh detector, as in river);
* ``update_many(values)`` feeds a batch and returns the indices of the values
  after which drift was detected, exactly as a loop of ``update`` would;
* ``get_state()`` returns a JSON-serialisable dict (name, state version, params,
  state) and ``from_state(dict)`` rebuilds a detector that continues exactly
  where the saved one stopped. Non-finite floats in a state (a running minimum
  that starts at infinity, an overflow) are stored as the strings ``"inf"``,
  ``"-inf"``, ``"nan"``, so the dict is strict JSON.

Input values must be finite: NaN or infinity raises ``MonitorError`` (a
``ValueError``) naming the position and the value, and ``update_many`` leaves
the detector untouched when it raises.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from goldband.errors import MonitorError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["MonitorError", "StreamingDetector"]


class StreamingDetector:
    """Base class of the streaming drift detectors; see the module docstring."""

    name: ClassVar[str] = ""
    state_version: ClassVar[int] = 1
    param_names: ClassVar[tuple[str, ...]] = ()
    # What the default ``_dump``/``_load`` save: private attributes ``_<key>`` under ``<key>``,
    # floats through ``enc``/``dec``, flags as booleans. A detector with other state overrides both.
    state_floats: ClassVar[tuple[str, ...]] = ()
    state_flags: ClassVar[tuple[str, ...]] = ("drift_detected",)

    _drift_detected: bool

    def __init__(self) -> None:
        self._reset()

    # -- the river protocol -------------------------------------------------
    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a change."""
        return self._drift_detected

    def _reset(self) -> None:
        self._drift_detected = False

    def reset(self) -> None:
        """Forget everything seen so far; the parameters stay."""
        self._reset()

    def update(self, x: float) -> Self:
        raise NotImplementedError

    def update_many(self, values: Iterable[float]) -> list[int]:
        """Feed ``values`` in order; return the indices where drift was detected.

        Equivalent to ``[i for i, v in enumerate(values) if self.update(v).drift_detected]``.
        """
        return [i for i, v in enumerate(values) if self.update(v).drift_detected]

    # -- parameters and state ----------------------------------------------
    @property
    def params(self) -> dict[str, Any]:
        """The constructor arguments, by name."""
        return {p: getattr(self, p) for p in self.param_names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def get_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot: ``from_state`` resumes from it exactly."""
        return {
            "detector": self.name,
            "version": self.state_version,
            "params": self.params,
            "state": self._dump(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        """Rebuild a detector saved by ``get_state`` (on the base class: any registered detector)."""
        where = f"{cls.__name__}.from_state"
        if not isinstance(state, Mapping) or not {"detector", "params", "state"} <= set(state):
            raise MonitorError(
                f"not a detector state: {_short(state)}",
                where=where,
                expected="a dict from get_state() with keys detector, version, params, state",
            )
        target = _resolve(cls, state["detector"], where)
        if state.get("version") != target.state_version:
            raise MonitorError(
                f"state version {state.get('version')!r} for detector {target.name!r}",
                where=where,
                expected=f"version {target.state_version}",
                fix="re-create the detector and feed it again, or upgrade goldband",
            )
        try:
            detector = target(**dict(state["params"]))
        except TypeError as exc:
            raise MonitorError(f"bad params for {target.name!r}: {exc}", where=where,
                               expected=f"keyword parameters {', '.join(target.param_names)}"
                               ) from exc
        try:
            detector._load(state["state"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MonitorError(
                f"malformed {target.name!r} state ({type(exc).__name__}: {exc})",
                where=where,
                expected="the dict returned by get_state(), unmodified",
            ) from exc
        return detector  # type: ignore[return-value]

    def _dump(self) -> dict[str, Any]:
        state: dict[str, Any] = {key: enc(getattr(self, f"_{key}")) for key in self.state_floats}
        state.update({key: bool(getattr(self, f"_{key}")) for key in self.state_flags})
        return state

    def _load(self, state: Mapping[str, Any]) -> None:
        for key in self.state_floats:
            setattr(self, f"_{key}", dec(state[key]))
        for key in self.state_flags:
            setattr(self, f"_{key}", bool(state[key]))


# -- the detectors known by name ------------------------------------------------
# ``StreamingDetector.from_state`` looks names up here. The detector modules import this
# one, so it cannot import them (or the registry, which does): the registry registers
# them instead. Importing any module of ``goldband.monitors`` runs the package's
# ``__init__``, which imports the registry, so the table is full before it is read.

_BY_NAME: dict[str, type[StreamingDetector]] = {}
KNOWN: Mapping[str, type[StreamingDetector]] = MappingProxyType(_BY_NAME)


def register(*classes: type[StreamingDetector]) -> None:
    """Make each of ``classes`` known by its ``name`` to ``StreamingDetector.from_state``."""
    for cls in classes:
        _BY_NAME[cls.name] = cls


# -- helpers shared by the detectors ------------------------------------------


def finite(x: float, where: str) -> float:
    """``float(x)``, or a MonitorError when it is NaN, infinite or not a number."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        raise MonitorError(
            f"got {_short(x)}", where=where, expected="a finite number"
        ) from None
    if not math.isfinite(value):
        raise MonitorError(
            f"got {value!r}",
            where=where,
            expected="a finite number",
            fix="drop or impute NaN and infinite values before feeding the detector",
        )
    return value


def finite_array(values: Iterable[float], where: str) -> npt.NDArray[np.float64]:
    """A 1-D float64 array of ``values``, or a MonitorError naming the first bad one."""
    import numpy as np

    try:
        arr = np.asarray(values if hasattr(values, "__len__") else list(values), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MonitorError(f"values are not numbers ({exc})", where=where,
                           expected="a 1-D sequence of finite numbers") from None
    if arr.ndim != 1:
        raise MonitorError(f"values have shape {arr.shape}", where=where,
                           expected="a 1-D sequence of finite numbers")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise MonitorError(
            f"{bad.size} non-finite value(s), the first at index {bad[0]}: {float(arr[bad[0]])!r}",
            where=where,
            expected="finite numbers only",
            fix="drop or impute NaN and infinite values before feeding the detector",
        )
    return arr


def require(ok: bool, where: str, what: str, expected: str) -> None:
    """Raise a MonitorError for a bad constructor argument unless ``ok``."""
    if not ok:
        raise MonitorError(what, where=where, expected=expected)


def enc(x: float) -> float | str:
    """A float for a strict-JSON state: ``inf``, ``-inf`` and ``nan`` become strings."""
    return x if math.isfinite(x) else repr(x)


def dec(x: float | str) -> float:
    """Inverse of ``enc``."""
    return float(x)


def _resolve(cls: type[StreamingDetector], name: Any, where: str) -> type[StreamingDetector]:
    if cls.name:
        if name != cls.name:
            raise MonitorError(f"the state is for detector {name!r}", where=where,
                               expected=f"a {cls.name!r} state")
        return cls
    if name not in KNOWN:
        raise MonitorError(f"unknown detector {name!r}", where=where,
                           expected=f"one of: {', '.join(sorted(KNOWN))}")
    return KNOWN[name]


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
