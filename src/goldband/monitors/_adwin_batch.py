"""ADWIN over a whole array at once, with exactly the arithmetic of ``ADWIN.update``.

Why this can be vectorised without changing a single detection: between two
resets ADWIN never drops a bucket (a detected drift resets the detector on the
next update), so after ``t`` values since a reset

* the bucket layout is a function of ``t`` alone: a level holds ``m`` values
  when it has received ``m`` buckets and ``m <= max_buckets``, else
  ``max_buckets - 1`` or ``max_buckets`` by the parity of ``m``; every second
  overflow moves up a level. The buckets tile ``[0, t)`` oldest first and a
  bucket of level ``i`` covers ``[j 2^i, (j+1) 2^i)`` for some ``j``;
* a level-``i`` bucket total is the pairwise sum of two level-``i-1`` totals,
  so all of them are one pairwise-sum pyramid over the values;
* the window's total and sum of squared deviations are sequential running sums,
  which ``np.cumsum`` reproduces bit for bit.

A check (every ``clock`` values) is then a row: the bucket totals oldest first,
their running sums (``u0``; ``u1`` from the total downwards), and the same cut
test as ``ADWIN._has_cut`` on every column. ``ln`` goes through ``math.log`` as
in the scalar path. The first row with a cut is the next detection; the search
restarts after it on a fresh detector. Work is O(values + checks x buckets).

``adwin`` imports this module and this module does not import ``adwin``: it sees the
detector through the ``Window`` protocol. numpy is imported inside the functions,
so that importing ``goldband.monitors`` stays free of it until ``update_many`` runs.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, NamedTuple, Protocol, Self

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Floats = npt.NDArray[np.float64]
    Ints = npt.NDArray[np.int64]

_FIRST_HORIZON = 1024
_CACHE: dict[tuple[float, int], Floats] = {}  # log terms per (delta, clock), index t // clock - 1
_CELLS_PER_BLOCK = 1 << 15  # rows x buckets evaluated per numpy block
_NO_SLOT = 1 << 62  # the slot of "no bucket here"; clipped to a trailing 0.0


class Window(Protocol):
    """What this module reads and rewrites of an ``ADWIN``: its knobs and its bucket state."""

    delta: float
    clock: int
    max_buckets: int
    min_window_length: int
    grace_period: int
    _totals: list[list[float]]
    _variances: list[list[float]]
    _width: int
    _total: float
    _variance: float
    _tick: int
    _drift_detected: bool

    @property
    def drift_detected(self) -> bool: ...

    def update(self, x: float) -> Self: ...

    def _reset(self) -> None: ...

    def _detect(self) -> bool: ...


def run(det: Window, x: Floats) -> list[int]:
    """Feed ``x`` to ``det``; return the drift indices, leaving ``det`` as a loop would."""
    import numpy as np

    with np.errstate(all="ignore"):  # IEEE results (inf, NaN) exactly as the scalar path
        return _run(det, x)


def _run(det: Window, x: Floats) -> list[int]:
    hits: list[int] = []
    if len(x) and det.drift_detected:
        det._reset()
    if det._tick != det._width:  # a state with dropped buckets: not produced by ADWIN itself
        return [i for i, v in enumerate(x.tolist()) if det.update(v).drift_detected]
    pos, horizon = 0, _FIRST_HORIZON
    while pos < len(x):
        rest = x[pos:]
        j, pyramid = _first_detection(det, rest, horizon)
        if j is None:
            pyramid.restore(det, len(rest), tick=det._width + len(rest))
            break
        hits.append(pos + j)
        if j == len(rest) - 1:  # the last value: leave the post-drift window as update() does
            pyramid.restore(det, j + 1, tick=det._width + j)
            det._drift_detected = det._detect()
            break
        det._reset()
        pos, horizon = pos + j + 1, max(_FIRST_HORIZON, 2 * (j + 1))
    return hits


def _first_detection(det: Window, values: Floats, horizon: int) -> tuple[int | None, _Pyramid]:
    """Index of the first value of ``values`` after which ``det`` detects drift, if any."""
    done, h = 0, min(horizon, len(values))
    while True:
        pyramid = _Pyramid(det, values[:h])
        j = pyramid.first_hit(done, h)
        if j is not None or h == len(values):
            return j, pyramid
        done, h = h, min(4 * h, len(values))


def bucket_counts(t: Ints, max_buckets: int) -> list[Ints]:
    """Buckets per level (level 0 first) after ``t`` insertions since a reset."""
    import numpy as np

    counts, m = [], t
    while True:
        c = np.where(m <= max_buckets, m, max_buckets - 1 + (m - max_buckets - 1) % 2)
        counts.append(c)
        m = (m - c) // 2
        if not m.any():
            return counts


class _Pyramid:
    """Bucket totals, running total and running variance for ``det``'s state + ``new``."""

    def __init__(self, det: Window, new: Floats) -> None:
        import numpy as np

        self.det, self.new, self.n0 = det, new, det._width
        self.offsets, self.levels = _pyramid(det._totals, self.n0, new)
        sizes = [len(level) for level in self.levels]
        self.flat = np.concatenate([*self.levels, np.zeros(1)])  # all levels, one array
        self.shift = np.cumsum([0, *sizes[:-1]]) - np.asarray(self.offsets)  # slot -> flat index
        self.cache = _CACHE.get((det.delta, det.clock), np.empty(0))
        self.total = np.cumsum(np.concatenate(([det._total], new)))
        before = np.arange(self.n0, self.n0 + len(new), dtype=np.float64)  # width - 1
        dv = new - self.total[:-1] / before  # NaN for the very first value: replaced below
        inc = before * dv * dv / (before + 1.0)
        if self.n0 == 0 and len(new):
            inc[0] = 0.0
        self.var = np.cumsum(np.concatenate(([det._variance], inc)))

    def first_hit(self, done: int, h: int) -> int | None:
        """First index in ``(done, h]`` (as a 0-based value index) whose check finds a cut.

        Checks are evaluated in blocks that grow from a few rows, so a drift soon after
        a reset costs little, up to a fixed number of cells per block.
        """
        import numpy as np

        det, n0 = self.det, self.n0
        lowest = max(n0 + done, det.grace_period) + 1  # checks run when width > grace_period
        first = -(-lowest // det.clock) * det.clock
        ts = np.arange(first, n0 + h + 1, det.clock, dtype=np.int64)
        cols = len(self.levels) * det.max_buckets
        lo, rows = 0, 32
        while lo < len(ts):
            block = ts[lo : lo + rows]
            hit = np.flatnonzero(self._cut_found(block))
            if hit.size:
                return int(block[hit[0]]) - n0 - 1
            lo, rows = lo + rows, min(4 * rows, max(1, _CELLS_PER_BLOCK // cols))
        return None

    def _cut_found(self, ts: Ints) -> npt.NDArray[np.bool_]:
        """For each check time in ``ts``: does some bucket boundary cut the window?

        The same expressions, in the same order, as ``ADWIN._has_cut``; computed in
        place to keep the block in cache.
        """
        import numpy as np

        det = self.det
        key = (int(ts[0]), len(ts), det.clock, det.max_buckets, det.min_window_length)
        lay = _small_layout(*key) if len(ts) <= 128 else _layout(*key)
        idx = lay.slots + self.shift[lay.level]
        np.minimum(idx, len(self.flat) - 1, out=idx)  # no bucket: the trailing 0.0
        row = ts - self.n0
        totals = np.empty((len(ts), idx.shape[1] + 1))
        np.take(self.flat, idx, out=totals[:, 1:])
        u0 = np.cumsum(totals[:, 1:], axis=1)
        np.negative(totals, out=totals)  # u1 runs down from the window total
        totals[:, 0] = self.total[row]
        u1 = np.cumsum(totals, axis=1)[:, 1:]
        log_term = self.log_terms(ts)[:, None]
        var_w = (self.var[row] / ts)[:, None]
        gap = np.divide(u0, lay.n0, out=u0)
        gap -= np.divide(u1, lay.n1, out=u1)
        np.abs(gap, out=gap)
        eps = np.multiply(lay.m2, var_w, out=u1)  # (2 m) (var / w) ln(...)
        eps *= log_term
        np.sqrt(eps, out=eps)
        eps += np.multiply(2.0 / 3.0 * log_term, lay.m, out=totals[:, 1:])
        cut = gap > eps
        cut &= lay.admissible
        return np.asarray(cut.any(axis=1), dtype=np.bool_)

    def log_terms(self, ts: Ints) -> Floats:
        """``ln(2 ln(t) / delta)`` for check times ``ts`` (multiples of ``clock``), cached."""
        import numpy as np

        cache, clock = self.cache, self.det.clock
        need = int(ts[-1]) // clock if len(ts) else 0
        if len(cache) < need:
            delta, have = self.det.delta, len(cache)
            more = [_log_term(clock * i, delta) for i in range(have + 1, 2 * need + 1)]
            cache = self.cache = np.concatenate((cache, more))
            _CACHE[(self.det.delta, clock)] = cache
        return cache[ts // clock - 1]

    def restore(self, det: Window, k: int, *, tick: int) -> None:
        """Set ``det`` to its state after the first ``k`` new values (no drift yet)."""
        import numpy as np

        t = self.n0 + k
        variances = _variance_pyramid(self.det._variances, self.levels, self.new)
        totals_out, variances_out, end = [], [], t
        for level, count in enumerate(bucket_counts(np.array([t]), det.max_buckets)):
            c = int(count[0])
            start = end - (c << level)
            i = (start >> level) - self.offsets[level]
            totals_out.append(self.levels[level][i : i + c].tolist())
            variances_out.append(variances[level][i : i + c].tolist())
            end = start
        det._totals, det._variances = totals_out, variances_out
        det._width, det._tick = t, tick
        det._total, det._variance = float(self.total[k]), float(self.var[k])
        det._drift_detected = False


class _Layout(NamedTuple):
    """Where the buckets are for a block of check times (a function of the times alone)."""

    slots: Ints  # per check and column: the bucket's slot on its level (huge: no bucket)
    level: Ints  # per column: the level (the columns run oldest bucket first)
    n0: Floats  # values up to and including the column's bucket
    n1: Floats  # values after it
    m: Floats  # 1 / (n0 - least + 1) + 1 / (n1 - least + 1)
    m2: Floats  # 2 m (exact)
    admissible: npt.NDArray[np.bool_]  # a bucket, with both sides at least ``least`` long


def _layout(first: int, rows: int, clock: int, max_buckets: int, least: int) -> _Layout:
    import numpy as np

    ts = first + clock * np.arange(rows, dtype=np.int64)
    counts = bucket_counts(ts, max_buckets)
    cols = len(counts) * max_buckets
    k = np.arange(max_buckets)
    slots = np.full((rows, cols), _NO_SLOT, dtype=np.int64)
    level_of = np.zeros(cols, dtype=np.int64)
    sizes = np.zeros((rows, cols))
    end = ts
    for level, count in enumerate(counts):
        col = slice((len(counts) - 1 - level) * max_buckets, (len(counts) - level) * max_buckets)
        start = end - (count << level)
        valid = k < count[:, None]
        slots[:, col] = np.where(valid, (start >> level)[:, None] + k, _NO_SLOT)
        level_of[col] = level
        sizes[:, col] = valid * 2.0**level
        end = start
    n0 = np.cumsum(sizes, axis=1)
    n1 = ts.astype(np.float64)[:, None] - n0
    m = 1.0 / (n0 - least + 1.0) + 1.0 / (n1 - least + 1.0)
    admissible = (sizes > 0.0) & (n0 >= least) & (n1 >= least)
    layout = _Layout(slots, level_of, n0, n1, m, 2.0 * m, admissible)
    for array in layout:  # shared through the cache: never to be written
        array.flags.writeable = False
    return layout


_small_layout = functools.lru_cache(maxsize=64)(_layout)  # blocks right after a reset repeat


def _pyramid(state: list[list[float]], n0: int, new: Floats) -> tuple[list[int], list[Floats]]:
    """Per level: the slot of its first bucket, and the totals of every complete bucket.

    A level's array starts with the detector's own buckets of that level and goes on
    with the pairwise sums of the level below, which begin at an even slot.
    """
    import numpy as np

    offsets: list[int] = []
    levels: list[Floats] = []
    end, level = n0, 0
    while True:
        have = np.asarray(state[level] if level < len(state) else [], dtype=np.float64)
        start = end - (len(have) << level)
        if level == 0:
            arr = np.concatenate((have, new))
        else:
            child = levels[-1]
            half = len(child) // 2
            arr = np.concatenate((have, child[0 : 2 * half : 2] + child[1 : 2 * half : 2]))
        if not len(arr) and level >= len(state):
            return offsets, levels
        offsets.append(start >> level)
        levels.append(arr)
        end, level = start, level + 1


def _variance_pyramid(state: list[list[float]], totals: list[Floats], new: Floats) -> list[Floats]:
    """Bucket variances, merged exactly as ``ADWIN._compress`` merges them."""
    import numpy as np

    out = [np.concatenate((np.asarray(state[0], dtype=np.float64), np.zeros(len(new))))]
    for level in range(1, len(totals)):
        have = np.asarray(state[level] if level < len(state) else [], dtype=np.float64)
        child_t, child_v = totals[level - 1], out[-1]
        half = len(child_t) // 2
        size = 2.0 ** (level - 1)
        d = child_t[0 : 2 * half : 2] / size - child_t[1 : 2 * half : 2] / size
        merged = child_v[0 : 2 * half : 2] + child_v[1 : 2 * half : 2] + size * 0.5 * d * d
        out.append(np.concatenate((have, merged)))
    return out


def _log_term(width: int, delta: float) -> float:
    """``ln(2 ln(width) / delta)`` through libm, as in the scalar path (NaN below 2)."""
    return math.log(2.0 * math.log(width) / delta) if width >= 2 else math.nan
