"""Backtester conventions on hand-made candles: timing, costs, missing bars, exits, windows."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.strategy.backtest import Costs, ExitRules, backtest
from engine.strategy.market import Market

NO_COST = Costs(fee=0.0, slippage=0.0)


def market(open_, high=None, low=None, close=None) -> Market:
    o = np.atleast_2d(np.asarray(open_, dtype=float))
    c = o.copy() if close is None else np.atleast_2d(np.asarray(close, dtype=float))
    h = np.maximum(o, c) if high is None else np.atleast_2d(np.asarray(high, dtype=float))
    lo = np.minimum(o, c) if low is None else np.atleast_2d(np.asarray(low, dtype=float))
    s, t = o.shape
    return Market(symbols=tuple(f"S{i}" for i in range(s)), timeframe="30m",
                  ts=np.arange(t, dtype=np.int64) * 1_800_000_000_000, open_=o, high=h, low=lo, close=c,
                  volume=np.ones((s, t)))


def flags(t: int, *bars: int) -> np.ndarray:
    out = np.zeros((1, t), bool)
    out[0, list(bars)] = True
    return out


def test_signal_on_a_close_fills_at_the_next_open_with_fees_and_slippage():
    m = market([10, 11, 12, 13, 14, 15])
    costs = Costs(fee=0.001, slippage=0.002)
    r = backtest(m, flags(6, 1), flags(6, 3), costs=costs)
    (tr,) = [r.trades_of("S0")]
    assert tr.entry_bar.tolist() == [2] and tr.exit_bar.tolist() == [4]  # signals on bars 1 and 3
    assert tr.entry_price[0] == pytest.approx(12 * 1.002)
    assert tr.exit_price[0] == pytest.approx(14 * 0.998)
    want = 14 * 0.998 * 0.999 / (12 * 1.002 * 1.001) - 1
    assert tr.ret[0] == pytest.approx(want)
    assert r.equity[0, -1] == pytest.approx(1 + want)
    # marked at the close while open: the entry fee is paid, the exit fee not yet
    assert r.equity[0, 3] == pytest.approx(13 / (12 * 1.002 * 1.001))
    assert r.equity[0, :2].tolist() == [1.0, 1.0]


def test_short_trade_mirrors_the_long_account():
    m = market([10, 10, 10, 8, 8, 8])
    r = backtest(m, flags(6, 1), flags(6, 3), costs=Costs(fee=0.001, slippage=0.0), direction=-1)
    assert r.trades.entry_bar.tolist() == [2] and r.trades.exit_bar.tolist() == [4]
    assert r.trades.ret[0] == pytest.approx((10 * 0.999 - 8 * 1.001) / (10 * 1.001))


def test_a_signal_on_the_last_bar_never_trades_and_open_trades_close_at_the_window_end():
    m = market([10, 11, 12, 13, 14, 15], close=[10.5, 11.5, 12.5, 13.5, 14.5, 15.5])
    assert len(backtest(m, flags(6, 5), costs=NO_COST).trades) == 0
    r = backtest(m, flags(6, 0), costs=Costs(fee=0.0, slippage=0.01), stop=4)
    assert r.trades.exit_bar.tolist() == [3] and r.trades.reasons() == ("end",)
    assert r.trades.exit_price[0] == pytest.approx(13.5 * 0.99)
    assert r.equity.shape == (1, 4)


def test_missing_bars_defer_fills_to_the_next_present_bar():
    o = np.array([10, 11, np.nan, 13, 14, np.nan, 16, 17], dtype=float)
    m = market(o)
    r = backtest(m, flags(8, 1), flags(8, 4), costs=NO_COST)
    assert r.trades.entry_bar.tolist() == [3] and r.trades.exit_bar.tolist() == [6]
    assert r.trades.ret[0] == pytest.approx(16 / 13 - 1)
    assert np.isfinite(r.equity).all()


def test_one_position_at_a_time_and_re_entry_needs_a_signal_at_or_after_the_exit():
    m = market(np.arange(10, 20, dtype=float))
    entries = flags(10, 0, 1, 2, 3, 6)
    r = backtest(m, entries, flags(10, 3), costs=NO_COST)
    # in at 1 (signal 0), out at 4 (signal 3); signals 1-3 fall inside the trade; next signal 6 → in at 7
    assert r.trades.entry_bar.tolist() == [1, 7]
    assert r.trades.exit_bar.tolist() == [4, 9]


def test_stop_fills_at_the_level_or_at_a_gap_open_and_the_market_exit_comes_first():
    o = [100, 100, 99, 95, 90, 90]
    lo = [100, 100, 98.5, 94, 89, 89]
    m = market(o, low=lo, high=o, close=o)
    r = backtest(m, flags(6, 0), rules=ExitRules(stop_loss=0.02), costs=NO_COST)
    assert r.trades.exit_bar.tolist() == [3] and r.trades.reasons() == ("stop",)
    assert r.trades.exit_price[0] == pytest.approx(95)  # gapped through 98: filled at the open
    m2 = market([100, 100, 99.5, 99, 97, 97], low=[100, 100, 99, 97.5, 96, 96])
    r2 = backtest(m2, flags(6, 0), rules=ExitRules(stop_loss=0.02), costs=NO_COST)
    assert r2.trades.exit_bar.tolist() == [3] and r2.trades.exit_price[0] == pytest.approx(98)
    # a reverse signal on bar 2 exits at bar 3's open before that bar's stop
    r3 = backtest(m2, flags(6, 0), flags(6, 2), rules=ExitRules(stop_loss=0.02), costs=NO_COST)
    assert r3.trades.reasons() == ("signal",) and r3.trades.exit_price[0] == pytest.approx(99)


def test_stop_and_target_in_one_bar_assume_the_stop():
    m = market([100, 100, 100, 100], high=[100, 100, 110, 100], low=[100, 100, 90, 100])
    r = backtest(m, flags(4, 0), rules=ExitRules(stop_loss=0.05, take_profit=0.05), costs=NO_COST)
    assert r.trades.reasons() == ("stop",) and r.trades.exit_bar.tolist() == [2]


def test_target_fills_at_the_level_or_a_better_gap_open():
    m = market([100, 100, 101, 108, 108], high=[100, 100, 105, 109, 108])
    r = backtest(m, flags(5, 0), rules=ExitRules(take_profit=0.03), costs=Costs(fee=0.0, slippage=0.01))
    assert r.trades.entry_price[0] == pytest.approx(101)  # bought at 100 + 1 % slippage
    assert r.trades.reasons() == ("target",) and r.trades.exit_bar.tolist() == [2]
    assert r.trades.exit_price[0] == pytest.approx(101 * 1.03)  # a limit order: no slippage
    r2 = backtest(m, flags(5, 0), rules=ExitRules(take_profit=0.07), costs=NO_COST)
    assert r2.trades.exit_bar.tolist() == [3] and r2.trades.exit_price[0] == pytest.approx(108)


def test_trailing_stop_follows_the_closes_and_time_exit_counts_bars():
    close = [100, 100, 104, 110, 108, 106, 100]
    low = [100, 100, 103, 109, 107, 104, 99]
    m = market([100, 100, 101, 105, 109, 107, 101], low=low, close=close)
    r = backtest(m, flags(7, 0), rules=ExitRules(trailing_stop=0.05), costs=NO_COST)
    # peak close 110 at bar 3 → level 104.5, hit by bar 5's low 104
    assert r.trades.reasons() == ("trail",) and r.trades.exit_bar.tolist() == [5]
    assert r.trades.exit_price[0] == pytest.approx(104.5)
    r2 = backtest(m, flags(7, 0), rules=ExitRules(max_bars=3), costs=NO_COST)
    assert r2.trades.reasons() == ("time",) and r2.trades.exit_bar.tolist() == [4]


def test_symbols_trade_independently():
    o = np.array([[10, 11, 12, 13, 14], [20, 19, 18, 17, 16]], dtype=float)
    m = market(o)
    entries = np.zeros((2, 5), bool)
    entries[0, 0] = entries[1, 1] = True
    r = backtest(m, entries, costs=NO_COST)
    assert r.trades.symbol.tolist() == [0, 1]
    assert r.trades.entry_bar.tolist() == [1, 2]
    assert r.summaries[0].total_return == pytest.approx(14 / 11 - 1)
    assert r.summaries[1].total_return == pytest.approx(16 / 18 - 1)


def test_bad_rules_and_costs_are_config_errors():
    with pytest.raises(ConfigError):
        ExitRules(stop_loss=3.0)
    with pytest.raises(ConfigError):
        ExitRules(max_bars=0)
    with pytest.raises(ConfigError):
        Costs(fee=-0.01)
