"""Indicators for the strategy genome, on (symbols × bars) arrays of any timeframe.

Missing bars follow `engine.data.panel` (NaN, never forward-filled): each
symbol's indicator runs over its own present bars ("compact time": the
present bars packed to the front of the row, as `engine.features.recursive`
does), and the value at a missing bar is NaN. Windows therefore span the
last n *present* bars. Warm-up values are NaN:

- EMA(span): alpha = 2/(span+1), seeded with the first value, shown from the span-th value.
- RSI(n): Wilder averages of gains/losses seeded with the mean of the first n changes, shown from change n.
- MACD(fast, slow, signal): EMA(fast) - EMA(slow) from the slow-th value; signal = EMA(signal) of the line.
- Bollinger(n, k): SMA and population σ of the last n closes.
- VWAP(n): Σ typical·volume / Σ volume over n bars, typical = (h+l+c)/3 (mean typical price if no volume).
- volume z(n): z-score of log1p(volume) against its n-bar mean and σ (0 for a flat window).
- volatility ratio(n): RMS of one-bar log returns over n bars ÷ the same over 4n bars.
- market index: cumulative equal-weight mean of the symbols' one-bar log returns (one series for all).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.features.windows import rolling_mean_var, rolling_sum

FLAT = 1e-12


@dataclass(frozen=True, slots=True)
class Compactor:
    """Moves (S, T) arrays between the shared grid and each row's compact time."""

    shape: tuple[int, int]
    dense: bool
    on_grid: np.ndarray  # flat grid positions of present bars
    packed: np.ndarray  # the same bars' flat positions in compact time
    slot: np.ndarray  # each present bar's index in its row's compact time

    @classmethod
    def of(cls, valid: np.ndarray) -> Compactor:
        s, t = valid.shape
        n_valid = valid.sum(axis=1)
        on_grid = np.flatnonzero(valid)
        packed = np.flatnonzero(np.arange(t)[None, :] < n_valid[:, None])
        slot = packed % t if t else packed
        return cls(shape=(s, t), dense=bool(valid.all()), on_grid=on_grid, packed=packed, slot=slot)

    def compact(self, x: np.ndarray) -> np.ndarray:
        if self.dense:
            return x
        c = np.full(self.shape, np.nan)
        c.ravel()[self.packed] = x.ravel()[self.on_grid]
        return c

    def expand(self, c: np.ndarray, warmup: int = 0) -> np.ndarray:
        """Back onto the grid, hiding each row's first `warmup` present bars."""
        if self.dense:
            out = c.copy()
            out[:, :warmup] = np.nan
            return out
        vals = c.ravel()[self.packed]
        if warmup:
            vals = np.where(self.slot < warmup, np.nan, vals)
        out = np.full(self.shape, np.nan)
        out.ravel()[self.on_grid] = vals
        return out


def _lfilter_ema(x: np.ndarray, alpha: float, seed: np.ndarray) -> np.ndarray:
    """y[0] = seed, y[i] = alpha·x[i] + (1-alpha)·y[i-1] along axis 1."""
    from scipy.signal import lfilter

    out = np.empty_like(x)
    out[:, 0] = seed
    if x.shape[1] > 1:
        beta = 1.0 - alpha
        out[:, 1:] = lfilter([alpha], [1.0, -beta], x[:, 1:], axis=1, zi=(beta * seed)[:, None])[0]
    return out


def ema_compact(c: np.ndarray, span: int) -> np.ndarray:
    """EMA in compact time seeded with the first value (no warm-up hiding)."""
    if c.shape[1] == 0:
        return c.copy()
    return _lfilter_ema(c, 2.0 / (span + 1.0), c[:, 0])


def ema(x: np.ndarray, span: int, comp: Compactor) -> np.ndarray:
    return comp.expand(ema_compact(comp.compact(x), span), span - 1)


def rsi(close: np.ndarray, n: int, comp: Compactor) -> np.ndarray:
    c = comp.compact(close)
    s, t = c.shape
    out = np.full((s, t), np.nan)
    if t <= n:
        return out
    change = np.zeros((s, t))
    change[:, 1:] = c[:, 1:] - c[:, :-1]
    gain, loss = np.maximum(change, 0.0), np.maximum(-change, 0.0)
    up = np.full((s, t), np.nan)
    down = np.full((s, t), np.nan)
    up[:, n:] = _lfilter_ema(gain[:, n:], 1.0 / n, gain[:, 1:n + 1].mean(axis=1))
    down[:, n:] = _lfilter_ema(loss[:, n:], 1.0 / n, loss[:, 1:n + 1].mean(axis=1))
    total = up + down
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, 100.0 * up / total, np.where(np.isnan(total), np.nan, 50.0))
    return comp.expand(out, n)


def macd(close: np.ndarray, fast: int, slow: int, signal: int, comp: Compactor) -> tuple[np.ndarray, np.ndarray]:
    """(line, signal line) on the grid."""
    c = comp.compact(close)
    s, t = c.shape
    line = ema_compact(c, fast) - ema_compact(c, slow)
    sig = np.full((s, t), np.nan)
    start = slow - 1
    if t > start:
        sig[:, start:] = ema_compact(line[:, start:], signal)
    return comp.expand(line, start), comp.expand(sig, start + signal - 1)


def sma_std(x: np.ndarray, n: int, comp: Compactor) -> tuple[np.ndarray, np.ndarray]:
    mean, var = rolling_mean_var(comp.compact(x), n)
    return comp.expand(mean), comp.expand(np.sqrt(np.maximum(var, 0.0)))


def vwap(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, n: int,
         comp: Compactor) -> np.ndarray:
    tp = comp.compact((high + low + close) / 3.0)
    vol = comp.compact(volume)
    num = rolling_sum(tp * vol, n)
    den = rolling_sum(vol, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / den, rolling_sum(tp, n) / n)
    return comp.expand(out)


def volume_z(volume: np.ndarray, n: int, comp: Compactor) -> np.ndarray:
    lv = comp.compact(np.log1p(volume))
    mean, var = rolling_mean_var(lv, n)
    sd = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(sd <= FLAT * np.abs(mean), 0.0, (lv - mean) / sd)
    return comp.expand(np.where(np.isnan(mean), np.nan, z))


def _log_returns_compact(close: np.ndarray, comp: Compactor) -> np.ndarray:
    c = comp.compact(close)
    r = np.full(c.shape, np.nan)
    r[:, 1:] = np.log(c[:, 1:] / c[:, :-1])
    return r


def volatility_ratio(close: np.ndarray, n: int, comp: Compactor) -> np.ndarray:
    r2 = _log_returns_compact(close, comp) ** 2
    short = rolling_sum(r2, n) / n
    long = rolling_sum(r2, 4 * n) / (4 * n)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(long > 0, np.sqrt(short / long), np.where(np.isnan(long), np.nan, 1.0))
    return comp.expand(ratio)


def market_index(close: np.ndarray, comp: Compactor) -> np.ndarray:
    """(T,) cumulative equal-weight mean log return of all symbols present at each bar."""
    r = comp.expand(_log_returns_compact(close, comp))
    present = np.isfinite(r)
    n = present.sum(axis=0)
    total = np.where(present, r, 0.0).sum(axis=0)
    mean = np.divide(total, n, out=np.zeros_like(total), where=n > 0)
    return np.cumsum(mean)


def ema_1d(x: np.ndarray, span: int) -> np.ndarray:
    """EMA of a dense (T,) series, NaN for the first span-1 values."""
    if x.size == 0:
        return x.copy()
    out = _lfilter_ema(x[None, :], 2.0 / (span + 1.0), x[:1])[0]
    out[:span - 1] = np.nan
    return out
