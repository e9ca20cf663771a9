"""Test helpers: a real OpenAI-compatible loopback server for offline tests.

Names are loaded on first use, so ``python -m goldband.testing.fake_openai``
runs cleanly and importing this package costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from goldband.testing.fake_openai import FakeOpenAI, RecordedRequest, Reply, Rule

__all__ = ["FakeOpenAI", "RecordedRequest", "Reply", "Rule"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from goldband.testing import fake_openai

        return getattr(fake_openai, name)
    raise AttributeError(f"module 'goldband.testing' has no attribute {name!r}")
