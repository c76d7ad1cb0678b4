"""First-passage queries and the trailing-stop index against plain loops."""

from __future__ import annotations

import numpy as np

from engine.strategy.passage import (
    RangeTable,
    TrailingIndex,
    next_higher_close,
    stop_level,
)


def _walk(rng: np.random.Generator, s: int, t: int) -> np.ndarray:
    x = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (s, t)), axis=1))
    x[rng.random((s, t)) < 0.03] = np.nan  # missing bars never satisfy a query
    return x


def test_first_at_least_matches_a_scan():
    rng = np.random.default_rng(1)
    x = _walk(rng, 3, 257)
    table = RangeTable(x)
    rows = rng.integers(0, 3, 400)
    start = rng.integers(0, 260, 400)  # some past the end
    level = 100 * np.exp(rng.normal(0, 0.05, 400))
    level[::17] = np.nan  # a NaN level is never reached
    got = table.first_at_least(rows, np.minimum(start, 257), level)
    for i in range(400):
        want = 257
        for j in range(min(start[i], 257), 257):
            if x[rows[i], j] >= level[i]:
                want = j
                break
        assert got[i] == want, (i, rows[i], start[i], level[i])


def test_trailing_index_matches_a_scan():
    rng = np.random.default_rng(2)
    close = _walk(rng, 2, 300)
    low = close * (1 - rng.uniform(0, 0.01, close.shape))
    pct = 0.02
    neg_low = RangeTable(-low)
    index = TrailingIndex(close, next_higher_close(close, RangeTable(close)), neg_low, pct)
    for r in range(2):
        for p in range(300):
            if np.isnan(close[r, p]):
                continue
            peak, want, lvl = close[r, p], 300, np.nan
            for j in range(p + 1, 300):
                level = stop_level(peak, pct)
                if low[r, j] <= level:
                    want, lvl = j, level
                    break
                peak = max(peak, close[r, j])
            assert index.exit_bar[r, p] == want, (r, p)
            if want < 300:
                assert index.exit_level[r, p] == lvl
