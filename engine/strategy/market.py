"""A candle panel prepared once for many backtests: clean arrays, lookup tables, caches.

`Market.from_panel` sanitises OHLCV (a bar counts only if all five fields are
valid, as in `engine.features`), and lazily builds what the backtester and
the signal builder reuse across strategies: range tables for first-passage
queries, trailing-stop indexes per percentage, higher-timeframe views and
an LRU cache of indicator arrays. A Market belongs to one process/thread;
everything in it is derived only from the panel it was built from.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from engine.data.panel import CandlePanel, timeframe_seconds
from engine.features.formulas import sanitise
from engine.strategy.passage import RangeTable, TrailingIndex, next_higher_close
from engine.strategy.resample import TimeframeView, resample

SECONDS_PER_YEAR = 365 * 24 * 3600


class Directional:
    """One trade direction's price view: long = prices; short = negated prices.

    Negating turns a short into a long in this view (its stop is below, its
    target above, its trailing peak is the highest close), so one code path
    serves both. Fill prices are mapped back with `sign`.
    """

    def __init__(self, market: Market, sign: int) -> None:
        self.market = market
        self.sign = sign
        m = market
        if sign > 0:
            self.open, self.high, self.low, self.close = m.open, m.high, m.low, m.close
        else:
            self.open, self.high, self.low, self.close = -m.open, -m.low, -m.high, -m.close
        self._trailing: OrderedDict[float, TrailingIndex] = OrderedDict()
        self._next_higher: np.ndarray | None = None

    @property
    def high_max(self) -> RangeTable:
        return self.market.table("high" if self.sign > 0 else "-low")

    @property
    def low_neg(self) -> RangeTable:
        return self.market.table("-low" if self.sign > 0 else "high")

    @property
    def close_max(self) -> RangeTable:
        return self.market.table("close" if self.sign > 0 else "-close")

    def trailing(self, pct: float) -> TrailingIndex:
        key = round(float(pct), 10)
        hit = self._trailing.get(key)
        if hit is not None:
            self._trailing.move_to_end(key)
            return hit
        if self._next_higher is None:
            self._next_higher = next_higher_close(self.close, self.close_max)
        hit = TrailingIndex(self.close, self._next_higher, self.low_neg, key)
        self._trailing[key] = hit
        while len(self._trailing) > self.market.max_trailing:
            self._trailing.popitem(last=False)
        return hit


class Market:
    """Sanitised (S, T) OHLCV of one panel plus derived tables and caches."""

    def __init__(self, *, symbols: tuple[str, ...], timeframe: str, ts: np.ndarray, open_: np.ndarray,
                 high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                 cache_mb: float = 256.0, max_trailing: int = 48) -> None:
        valid, high, low, close, volume = sanitise(open_, high, low, close, volume)
        self.symbols = symbols
        self.timeframe = timeframe
        self.ts = np.asarray(ts, dtype=np.int64)
        self.valid = valid
        self.open = np.where(valid, open_, np.nan)
        self.high, self.low, self.close, self.volume = high, low, close, volume
        s, t = close.shape
        self.bars_per_year = SECONDS_PER_YEAR / timeframe_seconds(timeframe)
        # next_valid[s, t]: the first present bar ≥ t (T if none); column T is the sentinel.
        idx = np.where(valid, np.arange(t), t)
        nv = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
        self.next_valid = np.concatenate([nv, np.full((s, 1), t)], axis=1).astype(np.int64)
        # Marks use the last present close; before a symbol's first bar there is no mark.
        last = np.maximum.accumulate(np.where(valid, np.arange(t), -1), axis=1)
        self.close_ffill = np.where(last >= 0, close[np.arange(s)[:, None], np.maximum(last, 0)], np.nan)
        lr = np.zeros((s, t))
        with np.errstate(invalid="ignore", divide="ignore"):
            lr[:, 1:] = np.log(self.close_ffill[:, 1:] / self.close_ffill[:, :-1])
        self.log_return = np.where(np.isfinite(lr), lr, 0.0)
        self.max_trailing = max_trailing
        self._cache_bytes = int(cache_mb * 2**20)
        self._tables: dict[str, RangeTable] = {}
        self._directions: dict[int, Directional] = {}
        self._views: dict[str, TimeframeView] = {}
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._cache_used = 0
        self.cache_hits = 0
        self.cache_misses = 0

    @classmethod
    def from_panel(cls, panel: CandlePanel, **kwargs: float) -> Market:
        return cls(symbols=panel.symbols, timeframe=panel.timeframe, ts=np.array(panel.ts), open_=np.array(panel.open),
                   high=np.array(panel.high), low=np.array(panel.low), close=np.array(panel.close),
                   volume=np.array(panel.volume), **kwargs)

    def release(self) -> None:
        """Drop the derived tables and caches now (they refer back to the market, a cycle
        only Python's cycle collector would otherwise free — hundreds of MB at 500 symbols)."""
        self._tables.clear()
        self._directions.clear()
        self._views.clear()
        self._cache.clear()
        self._cache_used = 0

    @property
    def n_symbols(self) -> int:
        return self.close.shape[0]

    @property
    def n_bars(self) -> int:
        return self.close.shape[1]

    def table(self, name: str) -> RangeTable:
        tab = self._tables.get(name)
        if tab is None:
            source = {"high": self.high, "-low": -self.low, "close": self.close, "-close": -self.close}[name]
            tab = self._tables[name] = RangeTable(source)
        return tab

    def direction(self, sign: int) -> Directional:
        d = self._directions.get(sign)
        if d is None:
            d = self._directions[sign] = Directional(self, 1 if sign > 0 else -1)
        return d

    def view(self, timeframe: str) -> TimeframeView:
        v = self._views.get(timeframe)
        if v is None:
            v = self._views[timeframe] = resample(self.ts, self.timeframe, timeframe, self.open, self.high,
                                                  self.low, self.close, self.volume, self.valid)
        return v

    def cached(self, key: tuple, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """An indicator array from the LRU cache, computed on a miss (bounded by cache_mb)."""
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            self.cache_hits += 1
            return hit  # type: ignore[return-value]
        self.cache_misses += 1
        value = compute()
        value.setflags(write=False)
        self._cache[key] = value
        self._cache_used += value.nbytes
        while self._cache_used > self._cache_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cache_used -= old.nbytes  # type: ignore[attr-defined]
        return value
