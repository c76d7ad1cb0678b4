"""Rule-based geometric detectors: a second opinion that is not a neural net.

Every rule works on windows normalised to their own range (0 = lowest low,
1 = highest high), vectorised over the N windows of a batch:

- a zigzag (loop over the W bars, array ops across windows) turns closes
  into alternating swing pivots, a swing being ≥ `SWING` of the range
  (closes, not wicks: wicks made many spurious swings on noisy windows);
  the newest pivot is tentative (the extreme since the last confirmed one);
- double top / bottom and head & shoulders read the newest pivots;
- triangle, wedge and channel fit lines through the recent pivot highs and
  pivot lows and compare slopes and the width at both ends;
- bull / bear flag and cup & handle use arg-extremes over masked ranges.

Thresholds are in fractions of the window's range (or of its length) and
are stated at each rule. Bearish/bullish twins run the same rule on the
mirrored window (price → 1 − price). `detect(...)` returns a set of names.
"""

from __future__ import annotations

import warnings

import numpy as np

from engine.patterns.synthetic import PATTERNS

SWING = 0.1
"""A zigzag swing must move at least this fraction of the window's range."""
MAX_PIVOTS = 40


def _normalise(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bad = ~(np.isfinite(high) & np.isfinite(low) & np.isfinite(close))
    h, l, c = (np.where(bad, np.nan, a) for a in (high, low, close))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanmin(l, axis=1, keepdims=True)
        span = np.nanmax(h, axis=1, keepdims=True) - lo
    span = np.where(span > 0, span, np.nan)
    return (h - lo) / span, (l - lo) / span, (c - lo) / span


def zigzag(high: np.ndarray, low: np.ndarray, swing: float = SWING) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Alternating swing pivots of normalised (N, W) highs/lows.

    Returns (x, value, kind, count): (N, MAX_PIVOTS) bar index, price and
    kind (+1 high, −1 low) in time order, and the number of pivots per row.
    The last pivot of a row is tentative. NaN bars are skipped.
    """
    n, w = high.shape
    px = np.zeros((n, MAX_PIVOTS), dtype=np.int64)
    pv = np.full((n, MAX_PIVOTS), np.nan)
    pk = np.zeros((n, MAX_PIVOTS), dtype=np.int8)
    count = np.zeros(n, dtype=np.int64)
    direction = np.zeros(n, dtype=np.int8)  # 0 undecided, +1 tracking a high, −1 tracking a low
    cand_v, cand_x = np.full(n, np.nan), np.zeros(n, dtype=np.int64)
    max_v, max_x = np.full(n, -np.inf), np.zeros(n, dtype=np.int64)
    min_v, min_x = np.full(n, np.inf), np.zeros(n, dtype=np.int64)

    def record(rows: np.ndarray, x: np.ndarray, v: np.ndarray, kind: int) -> None:
        i = np.minimum(count[rows], MAX_PIVOTS - 1)
        px[rows, i], pv[rows, i], pk[rows, i] = x, v, kind
        count[rows] = i + 1

    for t in range(w):
        h, l = high[:, t], low[:, t]
        ok = np.isfinite(h) & np.isfinite(l)
        # undecided: wait for the first swing
        r = np.flatnonzero(ok & (direction == 0))
        if r.size:
            up = h[r] > max_v[r]
            max_v[r[up]], max_x[r[up]] = h[r[up]], t
            dn = l[r] < min_v[r]
            min_v[r[dn]], min_x[r[dn]] = l[r[dn]], t
            go = r[max_v[r] - min_v[r] >= swing]
            first_high = go[max_x[go] < min_x[go]]
            record(first_high, max_x[first_high], max_v[first_high], 1)
            direction[first_high], cand_v[first_high], cand_x[first_high] = -1, min_v[first_high], min_x[first_high]
            first_low = go[max_x[go] >= min_x[go]]
            record(first_low, min_x[first_low], min_v[first_low], -1)
            direction[first_low], cand_v[first_low], cand_x[first_low] = 1, max_v[first_low], max_x[first_low]
            continue_rows = np.setdiff1d(np.flatnonzero(ok & (direction != 0)), go, assume_unique=True)
        else:
            continue_rows = np.flatnonzero(ok & (direction != 0))
        r = continue_rows[direction[continue_rows] == 1]
        higher = h[r] > cand_v[r]
        cand_v[r[higher]], cand_x[r[higher]] = h[r[higher]], t
        turn = r[~higher & (cand_v[r] - l[r] >= swing)]
        record(turn, cand_x[turn], cand_v[turn], 1)
        direction[turn], cand_v[turn], cand_x[turn] = -1, l[turn], t
        r = continue_rows[direction[continue_rows] == -1]
        r = r[~np.isin(r, turn)]
        lower = l[r] < cand_v[r]
        cand_v[r[lower]], cand_x[r[lower]] = l[r[lower]], t
        turn = r[~lower & (h[r] - cand_v[r] >= swing)]
        record(turn, cand_x[turn], cand_v[turn], -1)
        direction[turn], cand_v[turn], cand_x[turn] = 1, h[turn], t
    live = np.flatnonzero(direction != 0)
    record(live, cand_x[live], cand_v[live], int(1))
    pk[live, np.minimum(count[live], MAX_PIVOTS) - 1] = direction[live]
    return px, pv, pk, count


class _Pivots:
    """The newest pivots of each window: `v[j]`, `k[j]`, `x[j]`, `ok[j]` for j = 0 (newest, tentative) …"""

    def __init__(self, px: np.ndarray, pv: np.ndarray, pk: np.ndarray, count: np.ndarray, depth: int,
                 mirror: bool = False) -> None:
        rows = np.arange(len(count))[:, None]
        idx = count[:, None] - 1 - np.arange(depth)[None, :]
        self.ok = idx >= 0
        idx = np.maximum(idx, 0)
        self.x = np.where(self.ok, px[rows, idx], 0)
        v = np.where(self.ok, pv[rows, idx], np.nan)
        k = np.where(self.ok, pk[rows, idx], 0)
        self.v = 1.0 - v if mirror else v
        self.k = -k if mirror else k

    def seq(self, kinds: tuple[int, ...]) -> np.ndarray:
        """Rows whose newest pivots have exactly these kinds (j = 0, 1, …)."""
        out = np.ones(len(self.ok), dtype=bool)
        for j, kind in enumerate(kinds):
            out &= self.ok[:, j] & (self.k[:, j] == kind)
        return out


def _double_top(p: _Pivots, w: int) -> np.ndarray:
    # newest first: decline (tentative low), second peak, trough, first peak
    v, x = p.v, p.x
    ok = p.seq((-1, 1, -1, 1))
    with np.errstate(invalid="ignore"):
        peaks_equal = np.abs(v[:, 1] - v[:, 3]) <= 0.07
        near_top = np.minimum(v[:, 1], v[:, 3]) >= 0.8
        deep = v[:, 2] <= np.minimum(v[:, 1], v[:, 3]) - 0.2
        broke = v[:, 0] <= v[:, 2] + 0.05
        apart = (x[:, 1] - x[:, 3]) >= 0.15 * w
        rose_into = ~p.ok[:, 4] | (v[:, 4] < v[:, 2])
    return ok & peaks_equal & near_top & deep & broke & apart & rose_into


def _head_and_shoulders(p: _Pivots, w: int) -> np.ndarray:
    # newest first: break (low), right shoulder, neck, head, neck, left shoulder
    v, x = p.v, p.x
    ok = p.seq((-1, 1, -1, 1, -1, 1))
    ls, n1, head, n2, rs = v[:, 5], v[:, 4], v[:, 3], v[:, 2], v[:, 1]
    with np.errstate(invalid="ignore"):
        head_top = (head >= 0.9) & (head - np.maximum(ls, rs) >= 0.08)
        shoulders = (np.abs(ls - rs) <= 0.15) & (np.minimum(ls, rs) - np.maximum(n1, n2) >= 0.1)
        neckline = np.abs(n1 - n2) <= 0.15
        broke = v[:, 0] <= np.minimum(n1, n2) + 0.05
        wide = (x[:, 1] - x[:, 5]) >= 0.3 * w
    return ok & head_top & shoulders & neckline & broke & wide


def _masked_arg(values: np.ndarray, mask: np.ndarray, largest: bool) -> tuple[np.ndarray, np.ndarray]:
    fill = -np.inf if largest else np.inf
    m = np.where(mask & np.isfinite(values), values, fill)
    i = m.argmax(axis=1) if largest else m.argmin(axis=1)
    return i, m[np.arange(len(m)), i]


def _bull_flag(h: np.ndarray, l: np.ndarray, c: np.ndarray) -> np.ndarray:
    n, w = h.shape
    t = np.arange(w)[None, :]
    top_i, top_v = _masked_arg(h, np.ones_like(h, dtype=bool), True)
    low_i, low_v = _masked_arg(l, t <= top_i[:, None], False)
    _, before_v = _masked_arg(h, t < low_i[:, None], True)
    with np.errstate(invalid="ignore"):
        pole = top_v - low_v
        fresh = ~(before_v > low_v + 0.5 * pole)  # nothing near the top before the pole (a cup's left rim)
    pole_bars = top_i - low_i
    flag_bars = (w - 1) - top_i
    after = t > top_i[:, None]
    _, flag_low = _masked_arg(l, after, False)
    slope = _masked_slope(c, after) * w  # range units per window length
    with np.errstate(invalid="ignore"):
        return ((pole >= 0.6) & fresh & (pole_bars >= 3) & (pole_bars <= 0.5 * w)
                & (flag_bars >= max(5, int(0.15 * w))) & (flag_bars <= 0.65 * w)
                & (top_v - flag_low <= 0.55 * pole) & (slope <= 0.1) & (slope >= -1.0))


def _masked_slope(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Least-squares slope of y over bar index within `mask`, per row (NaN with < 3 points)."""
    m = mask & np.isfinite(y)
    x = np.broadcast_to(np.arange(y.shape[1], dtype=float), y.shape)
    n = m.sum(axis=1)
    yy = np.where(m, y, 0.0)
    xx = np.where(m, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = xx.sum(axis=1) / n, yy.sum(axis=1) / n
        sxy = (np.where(m, (x - mx[:, None]) * (y - my[:, None]), 0.0)).sum(axis=1)
        sxx = (np.where(m, (x - mx[:, None]) ** 2, 0.0)).sum(axis=1)
        return np.where(n >= 3, sxy / sxx, np.nan)


def _cup_and_handle(c: np.ndarray) -> np.ndarray:
    n, w = c.shape
    t = np.arange(w)[None, :]
    left_i, left_v = _masked_arg(c, t <= int(0.45 * w), True)
    bottom_i, bottom_v = _masked_arg(c, t > left_i[:, None], False)
    right_i, right_v = _masked_arg(c, (t > bottom_i[:, None]) & (t <= w - 3), True)
    _, handle_v = _masked_arg(c, t > right_i[:, None], False)
    depth = np.minimum(left_v, right_v) - bottom_v
    cup = (t >= left_i[:, None]) & (t <= right_i[:, None]) & np.isfinite(c)
    with np.errstate(invalid="ignore", divide="ignore"):
        low_share = ((c <= bottom_v[:, None] + 0.3 * depth[:, None]) & cup).sum(axis=1) / cup.sum(axis=1)
        centred = (bottom_i - left_i) / (right_i - left_i)
        dip = right_v - handle_v
        handle_bars = (w - 1) - right_i
        return ((depth >= 0.35) & (np.abs(left_v - right_v) <= 0.12) & (right_i - left_i >= 0.35 * w)
                & (handle_bars >= 2) & (handle_bars <= 0.3 * w) & (dip >= 0.03) & (dip <= 0.5 * depth)
                & (low_share >= 0.33) & (centred >= 0.2) & (centred <= 0.8))


def _line_fit(x: np.ndarray, v: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row least-squares line through the used points: slope, intercept, max |residual|."""
    n = use.sum(axis=1)
    xs, vs = np.where(use, x, 0.0), np.where(use, v, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, mv = xs.sum(axis=1) / n, vs.sum(axis=1) / n
        sxx = np.where(use, (x - mx[:, None]) ** 2, 0.0).sum(axis=1)
        sxv = np.where(use, (x - mx[:, None]) * (v - mv[:, None]), 0.0).sum(axis=1)
        slope = sxv / sxx
        icpt = mv - slope * mx
        resid = np.where(use, np.abs(v - (icpt[:, None] + slope[:, None] * x)), 0.0).max(axis=1)
    return slope, icpt, resid


def _lines_at(p: _Pivots, w: int, depth: int) -> dict[str, np.ndarray]:
    """Triangle, wedge and channel from lines through the `depth` newest confirmed pivots."""
    x = p.x[:, 1:depth + 1] / max(1, w - 1)
    v, k, ok = p.v[:, 1:depth + 1], p.k[:, 1:depth + 1], p.ok[:, 1:depth + 1]
    highs, lows = ok & (k == 1), ok & (k == -1)
    su, iu, ru = _line_fit(x, v, highs)
    sl, il, rl = _line_fit(x, v, lows)
    x_old = x[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        w_old = (iu + su * x_old) - (il + sl * x_old)
        w_new = (iu + su) - (il + sl)  # at the newest bar
        ratio = w_new / w_old
        base = ok.all(axis=1) & (1.0 - x_old >= 0.45) & (np.maximum(ru, rl) <= 0.06) & (w_old >= 0.2)
        flat = 0.15  # |slope| below this (range per window) counts as flat
        return {
            "channel": base & (ratio >= 0.8) & (ratio <= 1.25) & (np.abs(su - sl) <= 0.25),
            "triangle": base & (ratio <= 0.6) & (ratio >= 0.0) & (su <= flat) & (sl >= -flat)
            & ((su < -flat) | (sl > flat)),
            "wedge": base & (ratio <= 0.6) & (ratio >= 0.0)
            & (((su > 2 * flat) & (sl > 2 * flat)) | ((su < -2 * flat) & (sl < -2 * flat))),
        }


def _lines(p: _Pivots, w: int) -> dict[str, np.ndarray]:
    """A line pattern holds when the 5 or the 6 newest confirmed pivots fit it (3 touches on a side)."""
    five, six = _lines_at(p, w, 5), _lines_at(p, w, 6)
    return {name: five[name] | six[name] for name in five}


def detect_batch(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """(N, W) OHLC windows → (N, 9) booleans, columns in `PATTERNS` order."""
    del open_  # the rules read highs, lows and closes only
    h, l, c = _normalise(np.asarray(high, float), np.asarray(low, float), np.asarray(close, float))
    n, w = h.shape
    px, pv, pk, count = zigzag(c, c)
    p, m = _Pivots(px, pv, pk, count, 8), _Pivots(px, pv, pk, count, 8, mirror=True)
    lines = _lines(p, w)
    found = {
        "head_and_shoulders": _head_and_shoulders(p, w),
        "double_top": _double_top(p, w),
        "double_bottom": _double_top(m, w),
        "bull_flag": _bull_flag(h, l, c),
        "bear_flag": _bull_flag(1.0 - l, 1.0 - h, 1.0 - c),
        "triangle": lines["triangle"],
        "cup_and_handle": _cup_and_handle(c),
        "wedge": lines["wedge"],
        "channel": lines["channel"],
    }
    return np.stack([found[name] & np.isfinite(c).any(axis=1) for name in PATTERNS], axis=1)


def detect(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> set[str]:
    """The patterns the rules see in one window (1-D OHLC arrays)."""
    row = detect_batch(*(np.asarray(a, float)[None, :] for a in (open_, high, low, close)))[0]
    return {name for name, hit in zip(PATTERNS, row) if hit}
