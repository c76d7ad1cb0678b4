"""backtesting.py (test-only) configured to follow engine.strategy.backtest's conventions.

Aligned conventions, each forced here rather than bent in our backtester:
- `trade_on_close=False`: a signal on bar i's close fills at bar i+1's open.
- `commission=fee` (charged at entry and exit, as ours); `spread=0` because
  backtesting.py charges its spread on entry only — our per-side slippage is
  checked analytically in test_backtest.py instead.
- Stop/target levels are relative to the entry fill. backtesting.py only
  takes absolute prices when the order is placed (on bar i), so the oracle
  computes them from bar i+1's open, which the test already knows.
- A market exit (reverse signal, time) cancels the trade's SL/TP first:
  backtesting.py would otherwise check a pending SL before the market close
  at the next open; ours exits at the open first.
- End of window: ours closes at the last bar's close. backtesting.py's
  `finalize_trades=True` closes at the last bar's *open*, so the oracle's data
  gets one extra flat bar at the last close, and the oracle neither enters
  nor keeps SL/TP on the last real bar.
- The oracle's `next()` starts at bar 1, so test signals on bar 0 are off.
- Integer units: a huge `cash` makes the rounding negligible.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

CASH = 1e12


def run_oracle(o: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray, entries: np.ndarray,
               exits: np.ndarray | None, *, fee: float, take_profit: float | None = None,
               stop_loss: float | None = None, trailing_stop: float | None = None,
               max_bars: int | None = None, direction: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """(trades with EntryBar/ExitBar/EntryPrice/ExitPrice, equity / cash).

    The equity has n+1 values: at the close of each real bar (an open trade
    marked without its exit fee), then after the final close-out.
    """
    from backtesting import Backtest, Strategy

    n = len(c)
    last = float(c[-1])
    df = pd.DataFrame({"Open": np.append(o, last), "High": np.append(h, last), "Low": np.append(l, last),
                       "Close": np.append(c, last), "Volume": np.ones(n + 1)},
                      index=pd.date_range("2020-01-01", periods=n + 1, freq="30min"))
    sign = 1 if direction > 0 else -1

    class Oracle(Strategy):
        def init(self) -> None:
            pass

        def next(self) -> None:
            i = len(self.data) - 1
            if i >= n:
                return
            if self.position:
                trade = self.trades[0]
                held = i - trade.entry_bar + 1
                if (exits is not None and exits[i]) or (max_bars is not None and held >= max_bars):
                    trade.sl = None
                    trade.tp = None
                    trade.close()
                    return
                if trailing_stop is not None:
                    level = c[i] * (1 - sign * trailing_stop)
                    trade.sl = max(trade.sl, level) if sign > 0 else min(trade.sl, level)
                if i == n - 1:
                    trade.sl = None
                    trade.tp = None
            elif entries[i] and i < n - 1:
                pe = o[i + 1]
                stops = [pe * (1 - sign * p) for p in (stop_loss, trailing_stop) if p is not None]
                sl = (max(stops) if sign > 0 else min(stops)) if stops else None
                tp = pe * (1 + sign * take_profit) if take_profit is not None else None
                (self.buy if sign > 0 else self.sell)(sl=sl, tp=tp)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(df, Oracle, cash=CASH, commission=fee, spread=0.0, trade_on_close=False,
                      exclusive_orders=True, finalize_trades=True)
        stats = bt.run()
    trades = stats["_trades"].copy()
    trades["ExitBar"] = np.minimum(trades["ExitBar"].to_numpy(), n - 1)
    equity = stats["_equity_curve"]["Equity"].to_numpy() / CASH
    return trades.sort_values("EntryBar").reset_index(drop=True), equity
