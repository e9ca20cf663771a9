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
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    except TypeError:  # keys of mixed types ({1: .., "a": ..} in YAML) do not sort: sort them as JSON names them
        text = json.dumps(_named(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _named(obj: Any) -> Any:
    """``obj`` with every mapping key as JSON names it; equal data whose keys sort today hashes as before.

    >>> _named({1: {None: True}, "a": [{False: 0}]})
    {'1': {'null': True}, 'a': [{'false': 0}]}
    """
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else json.dumps(k, default=str): _named(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_named(v) for v in obj]
    return obj
