"""A bounded, rolling window of the newest bars (memory stays flat on long runs)."""

from __future__ import annotations

import numpy as np

from engine.data.panel import FIELDS, Bar, CandlePanel


class RollingPanel:
    """The newest `capacity` bars of a watchlist, in a ring buffer.

    Owned by one thread (the engine loop); `snapshot()` returns an immutable
    CandlePanel copy that other threads (background fits) may keep.
    """

    def __init__(self, symbols: tuple[str, ...], timeframe: str, capacity: int, *, source: str = "",
                 synthetic: bool = False) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.symbols = symbols
        self.timeframe = timeframe
        self.capacity = capacity
        self.source = source
        self.synthetic = synthetic
        self._ts = np.zeros(capacity, dtype=np.int64)
        self._data = np.full((len(FIELDS), len(symbols), capacity), np.nan)
        self._next = 0  # ring position of the next write
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def extend(self, panel: CandlePanel) -> None:
        """Append every bar of `panel` (only the newest `capacity` are kept)."""
        if panel.symbols != self.symbols:
            raise ValueError("panel symbols differ from the window's")
        start = max(0, panel.n_bars - self.capacity)
        for i in range(start, panel.n_bars):
            self.append(panel.bar(i))

    def append(self, bar: Bar) -> None:
        if self._count and bar.ts <= self._ts[(self._next - 1) % self.capacity]:
            raise ValueError("bars must arrive in time order")
        pos = self._next
        self._ts[pos] = bar.ts
        for k, name in enumerate(FIELDS):
            self._data[k, :, pos] = getattr(bar, name)
        self._next = (pos + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)

    def _order(self, n: int) -> np.ndarray:
        n = min(n, self._count)
        return (np.arange(self._next - n, self._next)) % self.capacity

    def _newest(self, a: np.ndarray, n: int) -> np.ndarray:
        """A C-contiguous copy of the newest `n` positions of `a` along its last axis, oldest first.

        One block copy (two when the span wraps around the ring): a fancy-indexed
        gather over the last axis is slower and comes out non-contiguous, which
        CandlePanel would copy a second time.
        """
        n = min(n, self._count)
        start = self._next - n
        if start >= 0:
            return a[..., start:self._next].copy()
        return np.concatenate((a[..., start % self.capacity:], a[..., :self._next]), axis=-1)

    def snapshot(self, n: int | None = None) -> CandlePanel:
        """The newest `n` bars (all by default) as an immutable panel."""
        n = self._count if n is None else n
        data = self._newest(self._data, n)
        return CandlePanel(
            symbols=self.symbols,
            timeframe=self.timeframe,
            ts=self._newest(self._ts, n),
            source=self.source,
            synthetic=self.synthetic,
            **{name: data[k] for k, name in enumerate(FIELDS)},
        )

    def last_closes(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(ts (n,), closes (symbols, n)) of the newest `n` bars, oldest first."""
        return self._newest(self._ts, n), self._newest(self._data[FIELDS.index("close")], n)
