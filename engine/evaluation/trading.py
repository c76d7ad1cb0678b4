"""Turn per-bar signals into trades with next-bar execution, and score them against buy-and-hold.

The execution rule, used everywhere in the harness:

- `signal[s, t]` is decided at the CLOSE of bar t: it may use anything known
  then (features at t use close[t]), nothing later.
- Its order fills at the OPEN of bar t+1, and the position is held until the
  open of bar t+2, where the next signal (from bar t+1) takes over. So the
  position of "trading bar" u = t+1 earns the open-to-open return
  r[u] = open[u+1] / open[u] - 1.
- Hence a signal cannot earn the move of the bar it was computed on, nor
  the gap from close[t] to open[t+1].
- A bar without a price (NaN open at u or u+1) earns 0; a NaN signal is flat.

Buy-and-hold is scored on exactly the same trading bars: long every symbol
from the first one, paying the entry fee and slippage like the strategy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.data.panel import CandlePanel, timeframe_seconds
from engine.evaluation.metrics import TradingMetrics, trading_metrics


def open_to_open_returns(panel: CandlePanel) -> np.ndarray:
    """r[s, u] = open[s, u+1] / open[s, u] - 1, shape (S, T); NaN at the last bar and around missing bars."""
    o = np.where(panel.open > 0, panel.open, np.nan)
    out = np.full(o.shape, np.nan)
    if o.shape[1] > 1:
        out[:, :-1] = o[:, 1:] / o[:, :-1] - 1.0
    return out


@dataclass(frozen=True, slots=True)
class SignalEvaluation:
    bars: np.ndarray  # trading bars u (position from the signal at u-1)
    positions: np.ndarray  # (S, len(bars))
    strategy: TradingMetrics
    buy_and_hold: TradingMetrics


def trading_bars(start: int, stop: int, n_bars: int) -> np.ndarray:
    """Bars whose position comes from a signal at bars [start, stop) and whose return is known."""
    return np.arange(start + 1, min(stop, n_bars - 2) + 1, dtype=np.int64)


def evaluate_signals(signal: np.ndarray, panel: CandlePanel, *, start: int, stop: int, fee_bps: float,
                     slippage_bps: float) -> SignalEvaluation:
    """Trade `signal` (S, T), values in [0, 1] (1 = long, NaN = flat), from bar `start` to `stop`.

    Only signals at bars [start, stop) are used; earlier and later ones are
    ignored. Fees and slippage are charged per side on every change of
    position (rates fee_bps/1e4 and slippage_bps/1e4 of the traded notional).
    """
    signal = np.asarray(signal, dtype=np.float64)
    if signal.shape != (panel.n_symbols, panel.n_bars):
        raise ValueError(f"signal has shape {signal.shape}, panel is {panel.n_symbols} × {panel.n_bars}")
    bars = trading_bars(start, stop, panel.n_bars)
    positions = np.nan_to_num(signal[:, bars - 1], nan=0.0)
    returns = open_to_open_returns(panel)[:, bars]
    kw = dict(bar_seconds=timeframe_seconds(panel.timeframe), fee_rate=fee_bps / 1e4,
              slippage_rate=slippage_bps / 1e4)
    return SignalEvaluation(
        bars=bars,
        positions=positions,
        strategy=trading_metrics(positions, returns, **kw),
        buy_and_hold=trading_metrics(np.ones_like(positions), returns, **kw),
    )
