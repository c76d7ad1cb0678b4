"""OHLC windows → candlestick rasters, for every window of a batch at once.

An image is 3 × height × width float32 in {0, 1}: channel 0 the wick (low to
high), channel 1 the body of rising bars (close ≥ open), channel 2 the body of
falling bars. Column j is bar j of the window (oldest left); row 0 is the top.
Prices map linearly onto rows between the window's lowest low and highest
high, so level and scale drop out. A NaN bar is an empty column; a window
without any finite bar is an empty image. Everything is array maths over the
(windows, bars) grid: no plotting library, no loop over symbols.
"""

from __future__ import annotations

import warnings

import numpy as np

from engine.data.panel import CandlePanel

CHANNELS = 3
WINDOW = 64
HEIGHT = 64


def _rows(price: np.ndarray, lo: np.ndarray, span: np.ndarray, height: int) -> np.ndarray:
    """Row index (0 = bottom) of each price; NaN stays NaN."""
    with np.errstate(invalid="ignore"):
        y = (price - lo) / span * (height - 1)
    return np.floor(np.clip(y, 0.0, height - 1) + 0.5)


def render_windows(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                   *, height: int = HEIGHT) -> np.ndarray:
    """(N, W) OHLC arrays → (N, 3, height, W) float32 candlestick images."""
    o, h, l, c = (np.asarray(a, dtype=np.float64) for a in (open_, high, low, close))
    if not (o.shape == h.shape == l.shape == c.shape) or o.ndim != 2:
        raise ValueError(f"open/high/low/close must share one (windows, bars) shape, got "
                         f"{o.shape}, {h.shape}, {l.shape}, {c.shape}")
    n, w = o.shape
    bad = ~(np.isfinite(o) & np.isfinite(h) & np.isfinite(l) & np.isfinite(c))
    h = np.where(bad, np.nan, h)
    l = np.where(bad, np.nan, l)
    out = np.zeros((n, CHANNELS, height, w), dtype=np.float32)
    if n == 0 or w == 0:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window is legitimate
        lo = np.nanmin(l, axis=1, keepdims=True)
        hi = np.nanmax(h, axis=1, keepdims=True)
    span = hi - lo
    flat = ~(span > 0)
    span = np.where(flat, 1.0, span)
    lo = np.where(flat & np.isfinite(lo), lo - 0.5, lo)  # a flat window draws on the middle row

    top_l, top_h = _rows(l, lo, span, height), _rows(h, lo, span, height)
    body_lo = _rows(np.minimum(o, c), lo, span, height)
    body_hi = _rows(np.maximum(o, c), lo, span, height)
    rising = c >= o

    rows = np.arange(height, dtype=np.float64)[::-1].reshape(1, height, 1)  # row 0 = top = highest price
    with np.errstate(invalid="ignore"):
        wick = (rows >= top_l[:, None, :]) & (rows <= top_h[:, None, :])
        body = (rows >= body_lo[:, None, :]) & (rows <= body_hi[:, None, :])
    out[:, 0] = wick
    out[:, 1] = body & rising[:, None, :]
    out[:, 2] = body & ~rising[:, None, :] & ~bad[:, None, :]
    return out


def panel_windows(panel: CandlePanel, ends: np.ndarray | int, *, window: int = WINDOW,
                  rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OHLC of the `window` bars ending at bar index `ends` (inclusive) for each symbol.

    `ends` is one bar index (every symbol) or an array; with `rows` given,
    window k is symbol rows[k] ending at ends[k]. Bars before the panel's
    start are NaN. Only bars ≤ the end are ever read: no lookahead.
    Returns four (N, window) arrays.
    """
    ends_arr = np.atleast_1d(np.asarray(ends, dtype=np.int64))
    if rows is None:
        if ends_arr.size != 1:
            raise ValueError("several ends need `rows` (one symbol row per window)")
        rows = np.arange(panel.n_symbols)
        ends_arr = np.full(panel.n_symbols, ends_arr[0])
    rows = np.asarray(rows, dtype=np.int64)
    if rows.shape != ends_arr.shape:
        raise ValueError(f"rows {rows.shape} and ends {ends_arr.shape} differ in shape")
    if ends_arr.size and (ends_arr.max() >= panel.n_bars or ends_arr.min() < 0):
        raise IndexError(f"window end outside the panel's {panel.n_bars} bars")
    cols = ends_arr[:, None] + np.arange(1 - window, 1)[None, :]
    before = cols < 0
    cols = np.where(before, 0, cols)
    out = []
    for field in (panel.open, panel.high, panel.low, panel.close):
        vals = field[rows[:, None], cols]
        out.append(np.where(before, np.nan, vals))
    return out[0], out[1], out[2], out[3]


def render_panel(panel: CandlePanel, end: int = -1, *, window: int = WINDOW, height: int = HEIGHT) -> np.ndarray:
    """The image of every symbol's last `window` bars up to bar `end` (default: the newest)."""
    end = panel.n_bars + end if end < 0 else end
    return render_windows(*panel_windows(panel, end, window=window), height=height)
