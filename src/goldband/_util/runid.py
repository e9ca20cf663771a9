"""Run ids and store timestamps (standard library only, so a session can name its run
before, or without, opening the store)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from goldband.clock import iso


def now() -> str:
    """The current time as the store writes it: ISO 8601, UTC, milliseconds."""
    return iso(datetime.now(UTC))


def new_run_id(moment: datetime | None = None) -> str:
    """``20261126-153012-ab12``: sortable by start time (UTC), short enough to type."""
    stamp = (moment or datetime.now(UTC)).astimezone(UTC)
    return f"{stamp:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
