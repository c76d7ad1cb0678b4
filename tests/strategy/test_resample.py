"""Higher timeframes: correct OHLCV, and nothing usable before its bar has closed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.data.synthetic import synthetic_panel
from engine.strategy.backtest import Costs, backtest
from engine.strategy.genome import Genome
from engine.strategy.market import Market
from engine.strategy.signals import build_signals, series

STEP = 1_800_000_000_000  # 30 minutes in ns


def _market(close: np.ndarray, start_ns: int = 0) -> Market:
    c = np.atleast_2d(np.asarray(close, dtype=float))
    t = c.shape[1]
    return Market(symbols=("A/USD",), timeframe="30m", ts=start_ns + np.arange(t, dtype=np.int64) * STEP,
                  open_=c, high=c * 1.001, low=c * 0.999, close=c, volume=np.ones_like(c))


def test_resampled_ohlcv_matches_pandas_with_missing_bars():
    panel = synthetic_panel(2, 300, seed=3)
    m = Market.from_panel(panel)
    m.open[0, [5, 6, 100]] = np.nan  # knock out bars: the whole bar is missing
    m = Market(symbols=panel.symbols, timeframe="30m", ts=m.ts, open_=m.open, high=panel.high, low=panel.low,
               close=panel.close, volume=panel.volume)
    v = m.view("4h")
    for s in range(2):
        ok = m.valid[s]
        df = pd.DataFrame({"o": m.open[s], "h": m.high[s], "l": m.low[s], "c": m.close[s], "v": m.volume[s]},
                          index=pd.to_datetime(m.ts, utc=True))[ok]
        want = df.resample("4h").agg({"o": "first", "h": "max", "l": "min", "c": "last", "v": "sum"})
        np.testing.assert_allclose(v.open[s], want["o"].to_numpy())
        np.testing.assert_allclose(v.high[s], want["h"].to_numpy())
        np.testing.assert_allclose(v.low[s], want["l"].to_numpy())
        np.testing.assert_allclose(v.close[s], want["c"].to_numpy())
        np.testing.assert_allclose(v.volume[s], want["v"].to_numpy())


def test_a_4h_value_changes_only_on_the_base_bar_that_closes_the_4h_bar():
    start = 2 * 3600 * 10**9  # 02:00 UTC: the first 4h bar (00:00-04:00) is partial but still closes at 04:00
    close = 100 + np.arange(40, dtype=float)
    m = _market(close, start)
    v = m.view("4h")
    mapped = v.to_base(series(m, "4h", "close"))[0]
    # base bar j closes at start + (j+1)·30m; the first 4h bar closes at 04:00 → base bar 3
    assert np.isnan(mapped[:3]).all()
    assert mapped[3] == close[3]
    assert (mapped[4:11] == close[3]).all()  # 04:00-08:00 is still open during base bars 4-10
    assert (mapped[11:19] == close[11]).all()  # … and known from the close of base bar 11 (07:30-08:00)
    assert mapped[19] == close[19]
    # base bars 36-39 (20:00-22:00) only start the last 4h bar: it never closes in the data, never used
    assert (mapped[35:] == close[35]).all()


def test_a_4h_crossover_is_not_visible_before_its_4h_bar_closes():
    close = np.full(48, 100.0)
    close[26:] = 110.0  # jumps inside the 4h bar of base bars 24-31
    m = _market(close)
    g = Genome(timeframe="4h", indicator="ema", entry="crossover", exit="time", filter="none", reverse_exit=False,
               direction=1, genes=(("ema_fast", 2), ("ema_slow", 3), ("hold_bars", 1)))
    sig = build_signals(m, g)
    assert np.flatnonzero(sig.entries[0]).tolist() == [31]  # the bar closing 04:00… not bar 26
    r = backtest(m, sig.entries, rules=g.exit_rules("30m"), costs=Costs(fee=0.0, slippage=0.0))
    assert r.trades.entry_bar.tolist() == [32]
    assert r.trades.exit_bar.tolist() == [40]  # one 4h bar = 8 base bars later


GENOMES = [
    {"timeframe": tf, "indicator": ind, "entry": entry, "exit": "trailing", "filter": flt, "reverse_exit": True}
    for tf, ind, entry, flt in [("4h", "ema", "crossover", "trend"), ("1h", "rsi", "mean_reversion", "volume"),
                                ("1d", "bollinger", "breakout", "none"), ("4h", "macd", "crossover", "regime"),
                                ("1h", "vwap", "mean_reversion", "volatility"), ("30m", "ema", "breakout", "trend")]
]


@pytest.mark.parametrize("cats", GENOMES, ids=[f"{g['timeframe']}-{g['indicator']}-{g['entry']}" for g in GENOMES])
def test_signals_on_a_prefix_equal_the_signals_on_the_full_history(cats):
    """No lookahead anywhere: cutting off the future never changes a past signal."""
    panel = synthetic_panel(3, 2400, seed=11)
    params = {**cats, "period_fast": 5, "period_slow": 20, "period_signal": 5, "band": 0.2, "exit_a": 0.2,
              "exit_b": 0.2, "filter_period": 10, "filter_level": 0.3}
    g = Genome.from_params(params)
    full = build_signals(Market.from_panel(panel), g)
    assert full.entries.any(), "the case must produce signals"
    for cut in (1000, 1337, 1801, 2399):
        part = build_signals(Market.from_panel(panel.slice(0, cut)), g)
        np.testing.assert_array_equal(part.entries, full.entries[:, :cut])
        np.testing.assert_array_equal(part.reverse, full.reverse[:, :cut])
