"""Near-duplicate candidates: a production failure the golden set already covers is not a new case.

Texts are compared after ``normalise`` (rapidfuzz's ``default_process``:
lower case, every non-alphanumeric character a space; then runs of spaces
collapsed), by rapidfuzz's ``token_sort_ratio`` on a 0-100 scale: the words are
sorted before an Indel-distance ratio, so "after 40 days, can I return shoes?"
duplicates "Can I return shoes after 40 days" (100), while a changed number or
word still lowers the score. A plain ``ratio`` would call a reordered question
new; a ``token_set_ratio`` would call a question that merely contains another
one a duplicate.

For speed the words are sorted once per text here, and two sorted texts are
scored by ``fuzz.ratio`` (the same number as ``token_sort_ratio``, tested).
Identical normalised texts are folded first. Most pairs are then ruled out
without scoring them, exactly (no near-duplicate is missed; a test checks the
result against a pairwise loop): by their lengths, and by a bound on the
characters two texts share, one matrix product per chunk of candidates (see
``_possible``). Only the few pairs left are scored, with
``process.extractOne(..., score_cutoff=threshold)``.

Measured once by hand on the 2-core development machine, with 10,000 candidate
and 2,000 existing texts of 5-30 words (about 105 characters, Zipf-distributed
words): 0.4-0.5 s for the candidates against the existing cases, 1.5 s in all
with the candidates also compared with each other (pairwise scoring of all 70
million pairs took about 15 s). Texts that all share nearly the same characters
(say, random orders of the same 30 words) leave the bound little to rule out,
and approach the pairwise time.

>>> normalise("  Can I RETURN   shoes?!\\n")
'can i return shoes'
>>> drop_near_duplicates(["Can I return shoes?", "shoes: can I return?", "Where is my order?"],
...                      ["Where is my order"], existing_ids=["order-status"])
([0], [(1, 'candidate 0', 100.0), (2, 'case order-status', 100.0)])
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

__all__ = ["DEFAULT_THRESHOLD", "drop_near_duplicates", "normalise", "sorted_words"]

DEFAULT_THRESHOLD = 90.0  # token_sort_ratio, 0-100: at or above it a candidate is a near-duplicate
_ROWS = 512  # candidates per matrix product: bounds its result to ROWS x choices float32


def normalise(text: str) -> str:
    """Lower case, alphanumerics only, single spaces: the form every comparison sees."""
    from rapidfuzz.utils import default_process

    return " ".join(default_process(text).split())


def sorted_words(text: str) -> str:
    """``normalise(text)`` with its words sorted: ``fuzz.ratio`` of two of these is their ``token_sort_ratio``."""
    return " ".join(sorted(normalise(text).split()))


def drop_near_duplicates(candidates: Sequence[str], existing: Sequence[str], *,
                         threshold: float = DEFAULT_THRESHOLD, existing_ids: Sequence[str] | None = None,
                         candidate_ids: Sequence[str] | None = None,
                         ) -> tuple[list[int], list[tuple[int, str, float]]]:
    """Which candidates to keep, and why each other one was dropped.

    A candidate is dropped when its best score against an existing case, or else
    against an earlier kept candidate, is at least ``threshold``. Returns the kept
    indices (in order) and, per dropped candidate, ``(index, "case <id>" |
    "candidate <id>", score)``; ``existing_ids`` names the existing cases (default: their positions, ``case
    #3``) and ``candidate_ids`` the candidates (default: their positions, ``candidate 2``).
    """
    if not 0 <= threshold <= 100:
        raise ValueError(f"threshold must be within 0-100, got {threshold}")
    ids = list(existing_ids) if existing_ids is not None else [f"#{j}" for j in range(len(existing))]
    if len(ids) != len(existing):
        raise ValueError(f"{len(ids)} existing_ids for {len(existing)} existing texts")
    names = [str(i) for i in range(len(candidates))] if candidate_ids is None else [str(c) for c in candidate_ids]
    keys = [sorted_words(text) for text in candidates]
    first: dict[str, int] = {}
    unique = [first.setdefault(key, i) == i for i, key in enumerate(keys)]
    order = [i for i, is_first in enumerate(unique) if is_first]
    near_case = _best_matches([keys[i] for i in order], [sorted_words(t) for t in existing], threshold)
    dropped: dict[int, tuple[str, float]] = {
        i: (f"case {ids[j]}", score) for i, (j, score) in zip(order, near_case, strict=True) if j is not None}
    rest = [i for i in order if i not in dropped]
    within = _within(rest, keys, threshold)
    dropped.update({i: (f"candidate {names[j]}", score) for i, (j, score) in within.items()})
    for i, key in enumerate(keys):
        if not unique[i]:
            j = first[key]
            dropped[i] = dropped.get(j, (f"candidate {names[j]}", 100.0))
    kept = [i for i in range(len(keys)) if i not in dropped]
    return kept, [(i, *dropped[i]) for i in sorted(dropped)]


def _best_matches(queries: list[str], choices: list[str], threshold: float) -> list[tuple[int | None, float]]:
    """For each query, the first best choice at or above ``threshold`` (index, score), else (None, 0)."""
    from rapidfuzz import fuzz, process

    found: list[tuple[int | None, float]] = [(None, 0.0)] * len(queries)
    for row, columns in enumerate(_possible(queries, choices, threshold)):
        if columns.size:
            best = process.extractOne(queries[row], [choices[c] for c in columns.tolist()], scorer=fuzz.ratio,
                                      processor=None, score_cutoff=threshold)
            if best is not None:
                found[row] = (int(columns[best[2]]), round(float(best[1]), 1))
    return found


def _within(order: list[int], keys: list[str], threshold: float) -> dict[int, tuple[int, float]]:
    """Greedy in candidate order: drop a candidate near an earlier one that is kept (ties: the earliest); the
    index of that one and the score."""
    import numpy as np
    from rapidfuzz import fuzz, process

    texts = [keys[i] for i in order]
    kept = np.zeros(len(texts), dtype=bool)
    dropped: dict[int, tuple[int, float]] = {}
    for position, columns in enumerate(_possible(texts, texts, threshold)):
        columns = columns[(columns < position) & kept[columns]]
        best = process.extractOne(texts[position], [texts[c] for c in columns.tolist()], scorer=fuzz.ratio,
                                  processor=None, score_cutoff=threshold) if columns.size else None
        if best is None:
            kept[position] = True
        else:
            dropped[order[position]] = (order[int(columns[best[2]])], round(float(best[1]), 1))
    return dropped


_BUCKETS = 64  # character buckets of a profile


@cache
def _ascii() -> Any:
    """Bucket per ASCII code: space, digits and a-z exactly (all that default_process leaves of ASCII)."""
    import numpy as np

    table = np.full(128, 37, dtype=np.int64)
    table[ord(" ")] = 0
    table[ord("0"):ord("9") + 1] = np.arange(1, 11)
    table[ord("a"):ord("z") + 1] = np.arange(11, 37)
    return table


def _profile(texts: list[str]) -> tuple[Any, Any]:
    """Each text's features (float32, one row per text) and its length: the dot product of two texts'
    features is at least the number of characters they have in common, counted per character bucket,
    ``sum(min(a_c, b_c))``, and equal to it while no bucket holds more than ``_CAP`` characters
    (``_SPACE_CAP`` spaces): a count ``n`` is ``n`` ones in a row (unary), so a product of two counts is their
    minimum; a count above the cap adds ``sqrt(n - cap)``, since ``min(x, y) <= sqrt(x * y)``."""
    import numpy as np

    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    buckets = np.where(codes < 128, _ascii()[np.minimum(codes, 127)], 37 + codes % (_BUCKETS - 37))
    rows = np.repeat(np.arange(len(texts)), lengths)
    counts = np.bincount(rows * _BUCKETS + buckets, minlength=len(texts) * _BUCKETS).reshape(len(texts), _BUCKETS)
    caps = np.full(_BUCKETS, _CAP)
    caps[0] = _SPACE_CAP  # bucket 0 is the space
    unary = counts[:, :, None] >= np.arange(1, _CAP + 1)[None, None, :]
    spaces = counts[:, :1] >= np.arange(_CAP + 1, _SPACE_CAP + 1)[None, :]
    excess = np.sqrt(np.maximum(counts - caps[None, :], 0))
    features = np.concatenate([unary.reshape(len(texts), -1), spaces, excess], axis=1)
    return features.astype(np.float32), lengths


_CAP, _SPACE_CAP = 8, 24  # counts up to these are exact in the features (spaces: about one character in six)


def _possible(queries: list[str], choices: list[str], threshold: float) -> list[Any]:
    """For each query, the indices of the choices it could reach ``threshold`` with (sorted); all the others
    are ruled out exactly, without scoring them.

    ``fuzz.ratio`` is ``100 * (1 - indel / (la + lb))``. Two bounds rule pairs out: the lengths (``indel >=
    |la - lb|``: texts are compared in order of length, each chunk only with the choices whose lengths it
    could match), and the characters in common (the Indel distance is at least the bag distance ``la + lb -
    2 * common``; ``_profile``'s features bound ``common`` from above with one matrix product per chunk). A
    pair whose bound is below ``threshold / 100 * (la + lb) / 2`` cannot reach the threshold; half a
    character of slack covers float32 rounding.
    """
    import numpy as np

    possible: list[Any] = [np.zeros(0, dtype=np.int64)] * len(queries)
    if not queries or not choices:
        return possible
    (q_features, q_lengths), (c_features, c_lengths) = _profile(queries), _profile(choices)
    used = q_features.any(axis=0) & c_features.any(axis=0)  # a feature one side never has adds nothing
    q_features, c_features = q_features[:, used], c_features[:, used]
    q_order, c_order = np.argsort(q_lengths, kind="stable"), np.argsort(c_lengths, kind="stable")
    c_sorted = c_lengths[c_order]
    low, high = (threshold / (200 - threshold), (200 - threshold) / threshold) if 0 < threshold < 200 else (0, 1e18)
    for start in range(0, len(queries), _ROWS):
        rows = q_order[start:start + _ROWS]
        first = int(np.searchsorted(c_sorted, q_lengths[rows[0]] * low - 1e-9))
        last = int(np.searchsorted(c_sorted, q_lengths[rows[-1]] * high + 1e-9, side="right"))
        columns = c_order[first:last]
        if not columns.size:
            continue
        common = q_features[rows] @ c_features[columns].T
        needed = threshold / 200 * (q_lengths[rows, None] + c_lengths[None, columns]) - 0.5
        for row, ok in zip(rows.tolist(), common >= needed, strict=True):
            possible[row] = np.sort(columns[ok])
    return possible
