"""What the plugin keeps on pytest's config: the settings, and the goldband session once a golden set exists."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from goldband.config import settings as gs

if TYPE_CHECKING:
    from goldband.session.session import Session

SETTINGS_KEY = pytest.StashKey[gs.Settings]()
SESSION_KEY = pytest.StashKey["Session"]()
ASIDE_KEY = pytest.StashKey[str]()  # why -n was set aside (goldband.plugin.xdist.IN_PROCESS)


def existing_session(config: pytest.Config) -> Session | None:
    """The goldband session, when a golden file was collected; None otherwise."""
    return config.stash.get(SESSION_KEY, None)


def session_of(config: pytest.Config) -> Session:
    """The goldband session of a run that has collected a golden file."""
    return config.stash[SESSION_KEY]
