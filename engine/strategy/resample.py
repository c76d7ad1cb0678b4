"""Higher timeframes from the base grid, and their values mapped back without lookahead.

A higher-timeframe bar covers the UTC-aligned bucket [k·tf, (k+1)·tf) (days
start at midnight UTC, 4h bars at 00/04/08… UTC): open = first present open,
high = max, low = min, close = last present close, volume = sum; a bucket
with no present base bar is a missing bar (NaN).

A bucket's values are known only once it has closed: on the base grid, bar j
(which closes at ts[j] + step) may use bucket k only if (k+1)·tf ≤ ts[j] +
step. `avail[j]` is the newest such bucket (-1 before the first), so a 4h
indicator changes exactly at the base bar that closes the 4h bar, never
earlier. A trailing partial bucket is never used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.data.panel import timeframe_seconds
from engine.errors import ConfigError
from engine.strategy.indicators import Compactor

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class TimeframeView:
    """OHLCV of one timeframe plus the map from base bars to its completed bars."""

    timeframe: str
    open: np.ndarray  # (S, Tk)
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    valid: np.ndarray
    avail: np.ndarray  # (T_base,) index of the newest completed bar at each base bar's close, -1 if none
    compactor: Compactor
    bars_per_base: int  # base bars in one bar of this timeframe
    known_at: np.ndarray  # (Tk,) the base bar at whose close bar k becomes known (T_base if never)

    @property
    def is_base(self) -> bool:
        return self.bars_per_base == 1

    def to_base(self, x: np.ndarray) -> np.ndarray:
        """Map an (S, Tk) or (Tk,) array of this timeframe onto the base grid (NaN before the first close)."""
        if self.is_base:
            return x
        pad = np.full(x.shape[:-1] + (1,), np.nan)
        padded = np.concatenate([x.astype(np.float64, copy=False), pad], axis=-1)
        return padded[..., self.avail]  # -1 picks the NaN column

    def states_to_base(self, x: np.ndarray) -> np.ndarray:
        """A boolean state of each bar, held on the base grid until the next bar of this timeframe closes."""
        if self.is_base:
            return x
        padded = np.concatenate([x, np.zeros(x.shape[:-1] + (1,), bool)], axis=-1)
        return padded[..., self.avail]

    def events_to_base(self, x: np.ndarray) -> np.ndarray:
        """A boolean event of each bar, placed on the base bar that closes it (and nowhere else)."""
        if self.is_base:
            return x
        t = self.avail.size
        out = np.zeros(x.shape[:-1] + (t,), bool)
        known = self.known_at < t
        out[..., self.known_at[known]] = x[..., known]
        return out


def base_view(timeframe: str, open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
              volume: np.ndarray, valid: np.ndarray) -> TimeframeView:
    t = close.shape[1]
    index = np.arange(t, dtype=np.int64)
    return TimeframeView(timeframe=timeframe, open=open_, high=high, low=low, close=close, volume=volume,
                         valid=valid, avail=index, compactor=Compactor.of(valid), bars_per_base=1, known_at=index)


def resample(ts: np.ndarray, base_timeframe: str, timeframe: str, open_: np.ndarray, high: np.ndarray,
             low: np.ndarray, close: np.ndarray, volume: np.ndarray, valid: np.ndarray) -> TimeframeView:
    """Aggregate sanitised base arrays (NaN at missing bars) into `timeframe` bars."""
    base_s, tf_s = timeframe_seconds(base_timeframe), timeframe_seconds(timeframe)
    if tf_s == base_s:
        return base_view(timeframe, open_, high, low, close, volume, valid)
    if tf_s < base_s or tf_s % base_s:
        raise ConfigError(f"cannot resample {base_timeframe} bars to {timeframe}",
                          hint="the strategy timeframe must be a whole multiple of the data's timeframe")
    s, t = close.shape
    tf_ns, step_ns = tf_s * NS, base_s * NS
    if t == 0:
        empty = np.empty((s, 0))
        none = np.empty(0, np.int64)
        return TimeframeView(timeframe, empty, empty, empty, empty, empty, np.empty((s, 0), bool), none,
                             Compactor.of(np.empty((s, 0), bool)), tf_s // base_s, none)
    bucket = ts // tf_ns
    starts = np.flatnonzero(np.diff(bucket)) + 1
    starts = np.concatenate([[0], starts])
    buckets = bucket[starts]

    idx = np.arange(t)
    first = np.minimum.reduceat(np.where(valid, idx, t), starts, axis=1)
    last = np.maximum.reduceat(np.where(valid, idx, -1), starts, axis=1)
    k_valid = last >= 0
    rows = np.arange(s)[:, None]
    nan = np.nan
    k_open = np.where(k_valid, open_[rows, np.minimum(first, t - 1)], nan)
    k_close = np.where(k_valid, close[rows, np.maximum(last, 0)], nan)
    k_high = np.where(k_valid, np.maximum.reduceat(np.where(valid, high, -np.inf), starts, axis=1), nan)
    k_low = np.where(k_valid, np.minimum.reduceat(np.where(valid, low, np.inf), starts, axis=1), nan)
    k_vol = np.where(k_valid, np.add.reduceat(np.where(valid, volume, 0.0), starts, axis=1), nan)

    newest_closed = (ts + step_ns) // tf_ns - 1
    avail = (np.searchsorted(buckets, newest_closed, side="right") - 1).astype(np.int64)
    # avail never decreases; where it first reaches k, bar k is known (if two bars
    # close at once on a grid with holes, the earlier one is superseded: never).
    first = np.searchsorted(avail, np.arange(buckets.size), side="left")
    known_at = np.where((first < t) & (avail[np.minimum(first, t - 1)] == np.arange(buckets.size)), first, t)
    return TimeframeView(timeframe=timeframe, open=k_open, high=k_high, low=k_low, close=k_close, volume=k_vol,
                         valid=k_valid, avail=avail, compactor=Compactor.of(k_valid),
                         bars_per_base=tf_s // base_s, known_at=known_at.astype(np.int64))
