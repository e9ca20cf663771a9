"""Pausing the cyclic garbage collector while a window's objects are built.

Reading a window of a million predictions allocates tens of millions of
objects, none in a reference cycle; each allocation burst sets off full
collections that scan every object already built (a quarter of the read time,
measured in docs/bench-monitor-volume.md). Reference counting still frees
everything; only the cycle search waits until the block ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block, restoring its previous state after.

    >>> with collector_paused():
    ...     gc.isenabled()
    False
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
