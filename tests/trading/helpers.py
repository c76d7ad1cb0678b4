"""Tiny hand-made bars and a controllable clock for the trading tests."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from engine.data.panel import Bar
from engine.events import Contribution
from engine.trading import RiskSettings, TradingDesk, TradingSettings

SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
TIMEFRAME = "1h"
BAR_NS = 3600 * 1_000_000_000
T0 = 1_704_067_200 * 1_000_000_000  # 2024-01-01 00:00 UTC


def _row(value: float | Sequence[float] | None, default: np.ndarray) -> np.ndarray:
    if value is None:
        return default.copy()
    return np.broadcast_to(np.asarray(value, dtype=np.float64), default.shape).copy()


def make_bar(i: int, open: float | Sequence[float] = 100.0, *, high: float | Sequence[float] | None = None,
             low: float | Sequence[float] | None = None, close: float | Sequence[float] | None = None,
             n: int = len(SYMBOLS)) -> Bar:
    """Bar number `i` (ts = T0 + i hours); high/low default to max/min of open and close."""
    o = _row(open, np.zeros(n))
    c = _row(close, o)
    return Bar(ts=T0 + i * BAR_NS, open=o, high=_row(high, np.fmax(o, c)), low=_row(low, np.fmin(o, c)),
               close=c, volume=np.ones(n))


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def votes(*values: float) -> tuple[Contribution, ...]:
    return tuple(Contribution(source=f"m{k}", family="ensemble", value=v, weight=1.0) for k, v in enumerate(values))


def make_desk(tmp_path: Path, *, clock: FakeClock | None = None, risk: RiskSettings | None = None,
              **settings: object) -> TradingDesk:
    return TradingDesk.paper(tmp_path, TradingSettings(**settings), risk or RiskSettings(), symbols=SYMBOLS,
                             timeframe=TIMEFRAME, clock=clock or FakeClock())


def scores(**by_symbol: float) -> list[float]:
    return [by_symbol.get(s, 0.5) for s in SYMBOLS]
