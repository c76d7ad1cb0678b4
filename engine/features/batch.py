"""Features over a whole history, every symbol at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.data.panel import CandlePanel
from engine.features.formulas import finish, sanitise, window_parts_batch
from engine.features.recursive import recursive_batch
from engine.features.spec import FeatureSpec


@dataclass(frozen=True, slots=True)
class FeatureBlock:
    """Features of a panel: `values[s, t, f]` is feature `names[f]` of `symbols[s]` at `ts[t]`.

    float64, read-only. float64 because the live path must reproduce these
    numbers to 1e-9 (float32 carries ~7 digits) and because the price-level
    intermediates (EMAs, VWAP of prices ~1e5) would lose the small distances
    in float32; a model that wants float32 casts at its own boundary.
    NaN marks a missing bar, a window that includes one, or a warm-up.
    """

    names: tuple[str, ...]
    values: np.ndarray  # (S, T, F) float64
    ts: np.ndarray  # (T,) int64 ns UTC
    symbols: tuple[str, ...]
    spec: FeatureSpec = FeatureSpec()

    def column(self, name: str) -> np.ndarray:
        """One feature as an (S, T) view."""
        try:
            return self.values[:, :, self.names.index(name)]
        except ValueError:
            raise KeyError(f"no feature {name!r}; have {', '.join(self.names)}") from None

    def at(self, t: int) -> np.ndarray:
        """Every feature of every symbol at bar `t`, shape (S, F)."""
        return self.values[:, t, :]


# Symbols per chunk: ~2^16 bars keeps each (chunk, T) temporary around 0.5 MB,
# in cache, and bounds the working memory on a Pi whatever the universe size.
_CHUNK_BARS = 1 << 16


def symbol_chunks(n_symbols: int, n_bars: int) -> list[slice]:
    """Groups of symbols processed together (each group is one set of array ops)."""
    step = max(1, _CHUNK_BARS // max(n_bars, 1))
    return [slice(lo, min(n_symbols, lo + step)) for lo in range(0, n_symbols, step)]


def compute_features(panel: CandlePanel, spec: FeatureSpec = FeatureSpec()) -> FeatureBlock:
    """Every feature of `spec` at every bar of `panel`, vectorised over symbols.

    Symbols are processed in groups (each group one set of array operations
    along time) only to keep temporaries cache-sized; results do not depend
    on the grouping.
    """
    names = spec.names()
    s, t = panel.n_symbols, panel.n_bars
    values = np.empty((s, t, len(names)))
    for sl in symbol_chunks(s, t):
        _compute_into(values[sl], panel.open[sl], panel.high[sl], panel.low[sl], panel.close[sl],
                      panel.volume[sl], spec)
    values.setflags(write=False)
    return FeatureBlock(names=names, values=values, ts=panel.ts, symbols=panel.symbols, spec=spec)


def _compute_into(out: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                  volume: np.ndarray, spec: FeatureSpec) -> None:
    valid, high, low, close, volume = sanitise(open_, high, low, close, volume)
    with np.errstate(divide="ignore", invalid="ignore"):
        rec, _ = recursive_batch(close, high, low, valid, spec)
        win = window_parts_batch(high, low, close, volume, valid, spec)
        for i, f in enumerate(finish(rec, win, high, low, close, spec)):
            out[:, :, i] = f
    out[~valid] = np.nan
