"""What the benchmark reports say about the machine they ran on, and how they judge a target."""

from __future__ import annotations

import os


def load_average() -> str:
    """The 1-minute load average at the start (the machine is shared: it explains the spread)."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "n/a"


def cores() -> int:
    """The cores this process may run on (not the machine's total under a CPU limit)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def meets(ok: bool) -> str:
    return "meets the target" if ok else "**misses the target**"
