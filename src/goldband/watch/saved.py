"""Saving your own streaming detectors in the store, so a nightly job resumes where it stopped.

The monitors save theirs already (``monitor_state``); these two functions do
the same for a detector you feed yourself::

    from goldband.monitor import load_detector, save_detector
    from goldband.monitors import ADWIN

    with open_store(".goldband/store.db") as store:
        adwin = load_detector(store, "latency-p95") or ADWIN(delta=0.01)
        hits = adwin.update_many(tonights_values)
        save_detector(store, "latency-p95", adwin)       # exactly where it stopped

The state is the detector's ``get_state()`` (strict JSON) under ``scope = 'custom'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from goldband.monitors.base import StreamingDetector
from goldband.watch import db

if TYPE_CHECKING:
    from goldband.store import Store

__all__ = ["load_detector", "save_detector"]

SCOPE = "custom"


def save_detector(store: Store, key: str, detector: StreamingDetector) -> None:
    """Store ``detector``'s exact state under ``key`` (replacing what was there)."""
    with store.transaction() as conn:
        db.put_state(conn, SCOPE, key, detector.get_state())


def load_detector(store: Store, key: str) -> StreamingDetector | None:
    """The detector saved under ``key``, continuing exactly where it stopped; None if nothing was saved."""
    state = db.get_state(store.conn, SCOPE, key)
    return None if state is None else StreamingDetector.from_state(state)
