"""First-passage queries on (symbols × bars) price arrays, for many start bars at once.

Path-dependent exits (stop, target, trailing stop) ask, for each candidate
trade, "at which bar does the price first cross this level?". Looping over
bars in Python would cost ~T steps per strategy; instead a sparse table
(`RangeTable`) keeps, for every bar i and k = 0..K, the maximum of the 2^k
bars starting at i (truncated at the row end). A query for n trades then
descends the K+1 levels once — O(n log T) numpy work, no per-bar loop.

Minimum queries use a table of negated values (`x ≤ L` ⟺ `-x ≥ -L`).
NaN (a missing bar) never satisfies a query: it is stored as -inf.

`TrailingIndex` solves the trailing stop the same way. The stop level at bar
j is (1 - pct) · max(entry fill, closes from the entry bar to j-1). The
record closes after any bar p form a chain p → ng[p] (next close strictly
above close[p]); while close[p] is the peak the level is fixed, so a stop
during that segment is one first-passage query, and "the first segment of
the chain whose query hits" is found for every bar at once by pointer
jumping.
"""

from __future__ import annotations

import numpy as np


class RangeTable:
    """Sparse table of range maxima along time, for every row of an (S, T) array."""

    __slots__ = ("_flat", "levels", "n_bars", "n_rows")

    def __init__(self, x: np.ndarray) -> None:
        x = np.where(np.isnan(x), -np.inf, np.asarray(x, dtype=np.float64))
        s, t = x.shape
        self.n_rows, self.n_bars = s, t
        k_max = max(1, int(t).bit_length())  # 2^(K+1) > T: any offset is reachable
        levels = np.empty((k_max + 1, s, t))
        levels[0] = x
        for k in range(1, k_max + 1):
            half = 1 << (k - 1)
            prev, cur = levels[k - 1], levels[k]
            cur[:] = prev
            if half < t:
                np.maximum(prev[:, :t - half], prev[:, half:], out=cur[:, :t - half])
        self.levels = levels
        self._flat = levels.reshape(k_max + 1, s * t)

    @property
    def nbytes(self) -> int:
        return self.levels.nbytes

    def first_at_least(self, rows: np.ndarray, start: np.ndarray, level: np.ndarray) -> np.ndarray:
        """For each query: the first bar j ≥ start[i] of row rows[i] with x[j] ≥ level[i] (T if none)."""
        t = self.n_bars
        pos = np.asarray(start, dtype=np.int64).copy()
        if pos.size == 0:
            return pos
        base = np.asarray(rows, dtype=np.int64) * t
        level = np.asarray(level, dtype=np.float64)
        level = np.where(np.isnan(level), np.inf, level)  # a NaN level is never reached
        last = t - 1
        for k in range(self._flat.shape[0] - 1, -1, -1):
            idx = np.minimum(pos, last)
            idx += base
            block = self._flat[k].take(idx)
            move = block < level
            move &= pos < t
            pos += move.astype(np.int64) << k
        np.minimum(pos, t, out=pos)
        return pos


class TrailingIndex:
    """Where a trailing stop set at `pct` below the running peak close is first hit.

    Built for one direction's price view (see `engine.strategy.market`):
    `close` (S, T), `next_higher` from `next_higher_close`, `low_neg` the
    RangeTable of -low. For every bar p, `exit_bar[p]` is the first bar at which the stop hits if
    close[p] is the running peak at the end of bar p, and `exit_level[p]`
    the stop level there (T / NaN if never).
    """

    __slots__ = ("exit_bar", "exit_level", "pct")

    def __init__(self, close: np.ndarray, next_higher: np.ndarray, low_neg: RangeTable, pct: float) -> None:
        s, t = close.shape
        self.pct = pct
        rows = np.repeat(np.arange(s, dtype=np.int64), t)
        bars = np.tile(np.arange(t, dtype=np.int64), s)
        flat_close = close.ravel()
        level = stop_level(flat_close, pct)
        hit = low_neg.first_at_least(rows, np.minimum(bars + 1, t), -level)
        hit = np.where(bars + 1 < t, hit, t)
        ng = next_higher.ravel()
        # The stop at level(p) only applies while close[p] is the peak: bars p+1 … ng[p].
        found = (hit < t) & (hit <= ng)
        # g[p]: the first bar of p's peak chain whose own segment contains the hit.
        sentinel = s * t
        nxt = np.where(ng < t, rows * t + ng, sentinel)
        g = np.where(found, np.arange(s * t), nxt)
        g = np.append(g, sentinel)
        for _ in range(max(1, int(t).bit_length()) + 1):
            g2 = g[g]
            if np.array_equal(g2, g):
                break
            g = g2
        g = g[:-1]
        ok = g < sentinel
        gi = np.where(ok, g, 0)
        self.exit_bar = np.where(ok, hit[gi], t).reshape(s, t)
        self.exit_level = np.where(ok, level[gi], np.nan).reshape(s, t)


def next_higher_close(close: np.ndarray, close_max: RangeTable) -> np.ndarray:
    """(S, T): the first bar k > p with close[k] > close[p] (T if none, or if close[p] is NaN)."""
    s, t = close.shape
    rows = np.repeat(np.arange(s, dtype=np.int64), t)
    bars = np.tile(np.arange(t, dtype=np.int64), s)
    above = np.nextafter(close.ravel(), np.inf)
    out = close_max.first_at_least(rows, np.minimum(bars + 1, t), above)
    out = np.where(bars + 1 < t, out, t)
    return out.reshape(s, t)


def stop_level(ref: np.ndarray, pct: float | np.ndarray) -> np.ndarray:
    """A protective level `pct` below `ref` in the direction's price view (works for negated prices)."""
    return ref - np.abs(ref) * pct


def target_level(ref: np.ndarray, pct: float | np.ndarray) -> np.ndarray:
    """A profit level `pct` above `ref` in the direction's price view."""
    return ref + np.abs(ref) * pct
