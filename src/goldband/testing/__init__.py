"""Test helpers: a real OpenAI-compatible loopback server for offline tests.

Names are loaded on first use, so ``python -m goldband.testing.fake_openai``
runs cleanly and importing this package costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from goldband._util.lazy import lazy_exports

if TYPE_CHECKING:
    from goldband.testing.fake_openai import FakeOpenAI, RecordedRequest, Reply, Rule

__all__ = ["FakeOpenAI", "RecordedRequest", "Reply", "Rule"]


__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, "fake_openai"), globals(), __all__)
