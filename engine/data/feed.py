"""The one interface every market-data feed implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from engine.data.panel import Bar, CandlePanel


@runtime_checkable
class Feed(Protocol):
    """A source of bars for a fixed watchlist.

    `history()` returns the bars before the live/replay start (models warm up
    and train on it). `next_bar(timeout)` returns the next bar once it is due
    (a replay paces itself, a live feed waits for the exchange), or None when
    no bar became due within `timeout` seconds. `exhausted` turns True when a
    finite feed has delivered its last bar. `status()` is a short human line
    ("replay 2019-01-03 12:00 · 4 bars/s", "binance · stale 95s").
    """

    symbols: tuple[str, ...]
    timeframe: str
    source: str
    synthetic: bool

    def history(self) -> CandlePanel: ...

    def next_bar(self, timeout: float | None = None) -> Bar | None: ...

    @property
    def exhausted(self) -> bool: ...

    def status(self) -> str: ...

    def close(self) -> None: ...
