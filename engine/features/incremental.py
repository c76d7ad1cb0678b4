"""Features for one new bar at a time: what the live engine runs per cycle."""

from __future__ import annotations

import numpy as np

from engine.data.panel import FIELDS, Bar, CandlePanel
from engine.errors import DataError
from engine.features.batch import symbol_chunks
from engine.features.formulas import RING_SERIES, derived, finish, sanitise, window_parts_last
from engine.features.recursive import RecursiveState, recursive_batch
from engine.features.spec import FeatureSpec


class IncrementalFeatures:
    """Feed bars one by one; each `update` returns that bar's (S, F) features.

    The values equal `compute_features` on the panel of every bar fed so far
    (including the history given to `from_history`) to ~1e-12 relative:
    recursive indicators carry their state (bit-for-bit the batch filter),
    window features read ring buffers of the newest `spec.ring_length()`
    bars. Cost per bar is O(S × window), vectorised across symbols. Bars are
    consecutive bars of the grid: a missing bar must arrive as NaN fields.
    """

    def __init__(self, symbols: tuple[str, ...], spec: FeatureSpec = FeatureSpec()) -> None:
        self.symbols = tuple(symbols)
        self.spec = spec
        self.names: tuple[str, ...] = spec.names()
        n = len(self.symbols)
        self._state = RecursiveState.fresh(n, spec)
        self._rings = np.full((len(RING_SERIES), n, spec.ring_length()), np.nan)  # oldest bar first
        self._run = np.zeros(n, np.int64)  # consecutive present bars, newest included
        self.last_ts: int | None = None
        self.bars_seen = 0

    @classmethod
    def from_history(cls, panel: CandlePanel, spec: FeatureSpec = FeatureSpec()) -> "IncrementalFeatures":
        """State as if every bar of `panel` had been fed; the next `update` is the bar after."""
        self = cls(panel.symbols, spec)
        states = []
        for sl in symbol_chunks(panel.n_symbols, panel.n_bars):
            valid, high, low, close, _ = sanitise(*(getattr(panel, f)[sl] for f in FIELDS))
            with np.errstate(divide="ignore", invalid="ignore"):
                states.append(recursive_batch(close, high, low, valid, spec)[1])
        if states:
            self._state = RecursiveState.concat(states)
        keep = min(panel.n_bars, self._rings.shape[2])
        if keep:
            tail = [getattr(panel, f)[:, -keep:] for f in FIELDS]
            valid, high, low, close, volume = sanitise(*tail)
            with np.errstate(divide="ignore", invalid="ignore"):
                series = derived(high, low, close, volume)
            for i, name in enumerate(RING_SERIES):
                self._rings[i, :, -keep:] = series[name]
            self._run = _trailing_true(valid)  # capped at the ring length, all the windows need
            self.last_ts = int(panel.ts[-1])
        self.bars_seen = panel.n_bars
        return self

    def update(self, bar: Bar) -> np.ndarray:
        """Features of `bar` for every symbol, shape (S, F), float64."""
        n = len(self.symbols)
        fields = [np.asarray(getattr(bar, f), dtype=np.float64) for f in FIELDS]
        for name, x in zip(FIELDS, fields):
            if x.shape != (n,):
                raise DataError(f"bar at ts={bar.ts}: {name} has shape {x.shape}",
                                hint=f"expected ({n},) for symbols {', '.join(self.symbols)}")
        if self.last_ts is not None and bar.ts <= self.last_ts:
            raise DataError(f"bar at ts={bar.ts} is not after the previous bar (ts={self.last_ts})",
                            hint="bars must arrive in strictly increasing time order")
        valid, high, low, close, volume = sanitise(*fields)
        rings = self._rings
        rings[:, :, :-1] = rings[:, :, 1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            series = derived(high, low, close, volume)
            for i, name in enumerate(RING_SERIES):
                rings[i, :, -1] = series[name]
            self._run = np.where(valid, self._run + 1, 0)
            rec = self._state.step(close, high, low, valid, self.spec)
            win = window_parts_last(dict(zip(RING_SERIES, rings)), self._run, self.spec)
            out = np.stack(finish(rec, win, high, low, close, self.spec), axis=1)
        out[~valid] = np.nan
        self.last_ts = int(bar.ts)
        self.bars_seen += 1
        return out


def _trailing_true(mask: np.ndarray) -> np.ndarray:
    """Per row, how many True values end the row."""
    flipped = mask[:, ::-1]
    return np.where(flipped.all(axis=1), mask.shape[1], np.argmin(flipped, axis=1))
