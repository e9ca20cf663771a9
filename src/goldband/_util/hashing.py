"""Content hashes: the identity of golden sets, targets, rubrics, judges and cache keys."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_hash(obj: Any) -> str:
    """``sha256:`` + the hex digest of ``obj``'s canonical JSON (sorted keys, no spaces).

    Equal data gives an equal hash whatever its key order:

    >>> canonical_hash({"b": 1, "a": [1, 2]}) == canonical_hash({"a": [1, 2], "b": 1})
    True
    >>> canonical_hash("x")[:15]
    'sha256:ba2df490'
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
