"""Runs' vocabulary: their ids, their kinds and the store's timestamps (standard library only, so
the plugin's options, the command line and a session can use it before, or without, the store)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from goldband.clock import iso

RUN_KINDS = ("ci", "pre-merge", "nightly", "manual")  # the kinds of run a store records


def now() -> str:
    """The current time as the store writes it: ISO 8601, UTC, milliseconds."""
    return iso(datetime.now(UTC))


def new_run_id(moment: datetime | None = None) -> str:
    """``20261126-153012-ab12``: sortable by start time (UTC), short enough to type."""
    stamp = (moment or datetime.now(UTC)).astimezone(UTC)
    return f"{stamp:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
