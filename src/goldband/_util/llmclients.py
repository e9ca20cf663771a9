"""Closing the blocking HTTP clients litellm caches for embedding calls.

Left to the garbage collector, their open sockets are reported as unclosed
(ResourceWarning) wherever the collector happens to run; the callers (trace
embeddings in ``watch``, the ``embedding_similarity`` check) close them once
their last call is done.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any


def close_sync_clients(litellm: Any) -> None:
    """Close and forget every non-async client in litellm's in-memory client cache."""
    cache = getattr(litellm, "in_memory_llm_clients_cache", None)
    if cache is None:
        return
    for key, client in list((getattr(cache, "cache_dict", None) or {}).items()):
        close = getattr(client, "close", None)
        if callable(close) and not inspect.iscoroutinefunction(close):
            with contextlib.suppress(Exception):
                close()
                cache.delete_cache(key)
