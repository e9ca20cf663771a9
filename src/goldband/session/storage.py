"""The session's one store: opened at its first use, shared by every part of the run, closed at the end.

History bands, the baseline, the run recorder (and its background writer) and
the judge cache all read and write through this one ``Store``; it is
thread-safe (see ``goldband.store.connection.StoreBase``). A session whose
store is turned off (``store: off``) has a handle without a path: every part
then works without history, recording or a shared judge cache.
"""

from __future__ import annotations

import threading
from pathlib import Path

from goldband.errors import StoreError
from goldband.store import Store, open_store
from goldband.store.postgres import postgres_url


class StoreHandle:
    """Opens the store once, on the first call that needs it, from any thread.

    ``check``: the first open runs SQLite's quick check and refuses a store damaged anywhere
    (``goldband.store.connection.check_sound``). That open comes before any provider call (the
    run's planning or its recorder), so a damaged store stops the run before it spends a call
    and before anything is written into the file. An xdist worker does not check: its
    controller did, moments before it started the workers.
    """

    def __init__(self, path: Path | None, *, check: bool = True) -> None:
        self.path = path
        self.check = check
        self._store: Store | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def open(self, *, create: bool = True) -> Store:
        """The store, opened (created when ``create``) and migrated at the first call; StoreError otherwise."""
        with self._lock:
            if self._store is None:
                if self.path is None:
                    raise StoreError("the store is turned off", where="store: off",
                                     fix="point --goldband-store (or 'store:' in goldband.yaml) at a store file")
                self._store = open_store(self.path, create=create, check=self.check)
            return self._store

    def existing(self) -> Store | None:
        """The store if it is on and its file exists (opened now if need be); None otherwise.

        For readers that have nothing to read in a store that does not exist yet
        (history bands, the end of an xdist controller's run): they never create one. A PostgreSQL
        database always exists: it is opened (its schema set up when it has none yet).
        """
        if self._store is not None:
            return self._store
        if self.path is not None and postgres_url(str(self.path)) is not None:
            return self.open()
        if self.path is None or not self.path.exists():
            return None
        return self.open(create=False)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
