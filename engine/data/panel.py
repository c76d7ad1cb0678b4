"""Aligned OHLCV history for a watchlist: one (symbols × bars) array per field.

Missing-bar policy (documented in the README): every symbol shares one time
grid at the feed's timeframe; a bar a symbol does not have is NaN in all five
fields. Nothing is forward-filled here or later: indicators skip missing bars
(recursive state is held, the value at a missing bar is NaN) and window
features that include a missing bar are NaN. Models score only symbols whose
features are finite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FIELDS = ("open", "high", "low", "close", "volume")

TIMEFRAME_SECONDS = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "12h": 43200,
    "1d": 86400,
}


def timeframe_seconds(timeframe: str) -> int:
    """Seconds in one bar of `timeframe` (e.g. "30m" → 1800)."""
    try:
        return TIMEFRAME_SECONDS[timeframe]
    except KeyError:
        from engine.errors import ConfigError

        raise ConfigError(
            f"unknown timeframe {timeframe!r}",
            hint="expected one of " + ", ".join(TIMEFRAME_SECONDS),
        ) from None


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar for every symbol of the watchlist (NaN where a symbol has none)."""

    ts: int  # bar open time, UTC, nanoseconds since the epoch
    open: np.ndarray  # shape (symbols,)
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


@dataclass(frozen=True, slots=True)
class CandlePanel:
    """OHLCV for several symbols on one shared time grid.

    `ts` has shape (T,), int64 nanoseconds UTC, strictly increasing; each
    field has shape (S, T), float64, NaN marking a missing bar. Arrays are
    read-only so a panel can be shared across threads.
    """

    symbols: tuple[str, ...]
    timeframe: str
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    source: str = ""
    synthetic: bool = False
    meta: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", _readonly(np.asarray(self.ts, dtype=np.int64)))
        n_sym, n_bar = len(self.symbols), len(self.ts)
        for name in FIELDS:
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n_sym, n_bar):
                raise ValueError(f"{name} has shape {arr.shape}, expected {(n_sym, n_bar)}")
            object.__setattr__(self, name, _readonly(arr))
        if n_bar > 1 and not np.all(np.diff(self.ts) > 0):
            raise ValueError("panel timestamps must be strictly increasing")

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    @property
    def n_bars(self) -> int:
        return len(self.ts)

    def field(self, name: str) -> np.ndarray:
        return getattr(self, name)

    def slice(self, start: int, stop: int) -> "CandlePanel":
        """Bars [start, stop) of every symbol (same semantics as list slicing)."""
        sl = slice(start, stop)
        return CandlePanel(
            symbols=self.symbols,
            timeframe=self.timeframe,
            ts=self.ts[sl],
            source=self.source,
            synthetic=self.synthetic,
            meta=self.meta,
            **{name: getattr(self, name)[:, sl] for name in FIELDS},
        )

    def select(self, symbols: tuple[str, ...]) -> "CandlePanel":
        """A panel of only `symbols`, in that order."""
        idx = [self.symbols.index(s) for s in symbols]
        return CandlePanel(
            symbols=tuple(symbols),
            timeframe=self.timeframe,
            ts=self.ts,
            source=self.source,
            synthetic=self.synthetic,
            meta=self.meta,
            **{name: getattr(self, name)[idx] for name in FIELDS},
        )

    def bar(self, i: int) -> Bar:
        """Bar `i` for every symbol."""
        return Bar(ts=int(self.ts[i]), **{name: getattr(self, name)[:, i] for name in FIELDS})

    def index_at_or_after(self, ts_ns: int) -> int:
        """Index of the first bar whose time is ≥ `ts_ns` (n_bars if none)."""
        return int(np.searchsorted(self.ts, ts_ns, side="left"))

    @staticmethod
    def from_bars(
        symbols: tuple[str, ...], timeframe: str, bars: list[Bar], *, source: str = "", synthetic: bool = False
    ) -> "CandlePanel":
        """Stack single bars (e.g. the replayed ones) back into a panel."""
        n = len(symbols)
        if not bars:
            empty = np.empty((n, 0))
            return CandlePanel(symbols, timeframe, np.empty(0, np.int64), empty, empty, empty, empty, empty,
                               source=source, synthetic=synthetic)
        return CandlePanel(
            symbols=symbols,
            timeframe=timeframe,
            ts=np.array([b.ts for b in bars], dtype=np.int64),
            source=source,
            synthetic=synthetic,
            **{name: np.stack([getattr(b, name) for b in bars], axis=1) for name in FIELDS},
        )
