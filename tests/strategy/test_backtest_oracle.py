"""Our vectorised backtester against backtesting.py (test-only oracle) on real embedded candles."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("backtesting")

from engine.data.embedded import load_embedded
from engine.strategy import indicators as ind
from engine.strategy.backtest import Costs, ExitRules, backtest
from engine.strategy.market import Market
from tests.strategy.oracle import run_oracle

FEE = 0.001
BARS = 2000


@pytest.fixture(scope="module")
def embedded():
    return load_embedded()


def _slice(panel, symbol: str, start: int):
    sub = panel.select((symbol,)).slice(start, start + BARS)
    assert np.isfinite(sub.close).all() and np.isfinite(sub.open).all(), "pick a slice without missing bars"
    return sub


def _cross(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = a - b
    up = np.zeros(d.shape, bool)
    down = np.zeros(d.shape, bool)
    up[:, 1:] = (d[:, 1:] > 0) & (d[:, :-1] <= 0)
    down[:, 1:] = (d[:, 1:] < 0) & (d[:, :-1] >= 0)
    return up, down


def ema_cross(m: Market):
    comp = m.view(m.timeframe).compactor
    return _cross(ind.ema(m.close, 12, comp), ind.ema(m.close, 36, comp))


def rsi_reversion(m: Market):
    r = ind.rsi(m.close, 14, m.view(m.timeframe).compactor)
    return r < 30, r > 55


def channel_breakout(m: Market):
    s, t = m.close.shape
    prior_high = np.full((s, t), np.nan)
    for k in range(20, t):
        prior_high[:, k] = m.high[:, k - 20:k].max(axis=1)
    up = np.zeros((s, t), bool)
    up[:, 1:] = (m.close[:, 1:] > prior_high[:, 1:]) & ~(m.close[:, :-1] > prior_high[:, :-1])
    return up, None


CASES = [
    # (name, signals, rules, direction)
    ("ema-cross", ema_cross, ExitRules(), 1),
    ("rsi-reversion+time", rsi_reversion, ExitRules(max_bars=24), 1),
    ("breakout stop/target", channel_breakout, ExitRules(stop_loss=0.015, take_profit=0.03), 1),
    ("ema-cross trailing", lambda m: (ema_cross(m)[0], None), ExitRules(trailing_stop=0.02), 1),
    ("ema-cross trailing+stop+time", lambda m: (ema_cross(m)[0], None),
     ExitRules(trailing_stop=0.03, stop_loss=0.012, max_bars=60), 1),
    ("short ema-cross stop/target", lambda m: tuple(reversed(ema_cross(m))),
     ExitRules(stop_loss=0.02, take_profit=0.02), -1),
    ("short trailing", lambda m: (ema_cross(m)[1], None), ExitRules(trailing_stop=0.025), -1),
]
SLICES = [("BTC/USD", 1000), ("ETH/USD", 12000), ("XRP/USD", 25000), ("LTC/USD", 2000), ("EOS/USD", 18500)]


# Every strategy on two symbols, every symbol at least twice (backtesting.py takes ~0.4 s a run).
RUNS = [(case, SLICES[(k + j) % len(SLICES)]) for k, case in enumerate(CASES) for j in (0, 2)]


@pytest.mark.parametrize("case,where", RUNS, ids=[f"{c[0]}-{w[0]}" for c, w in RUNS])
def test_same_trades_and_equity_as_backtesting_py(embedded, case, where):
    _name, signals, rules, direction = case
    symbol, start = where
    panel = _slice(embedded, symbol, start)
    m = Market.from_panel(panel)
    entries, exits = signals(m)
    entries = entries.copy()
    entries[:, 0] = False  # backtesting.py's next() starts at bar 1
    ours = backtest(m, entries, exits, rules=rules, costs=Costs(fee=FEE, slippage=0.0), direction=direction)
    theirs, their_equity = run_oracle(
        m.open[0], m.high[0], m.low[0], m.close[0], entries[0], None if exits is None else exits[0], fee=FEE,
        take_profit=rules.take_profit, stop_loss=rules.stop_loss, trailing_stop=rules.trailing_stop,
        max_bars=rules.max_bars, direction=direction)

    assert len(ours.trades) >= 5, "the case must actually trade"
    np.testing.assert_array_equal(ours.trades.entry_bar, theirs["EntryBar"].to_numpy())
    np.testing.assert_array_equal(ours.trades.exit_bar, theirs["ExitBar"].to_numpy())
    np.testing.assert_allclose(ours.trades.entry_price, theirs["EntryPrice"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.trades.exit_price, theirs["ExitPrice"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.equity[0, -1], their_equity[-1], rtol=1e-6)  # after the close-out
    first = int(np.argmax(np.isfinite(their_equity)))
    np.testing.assert_allclose(ours.equity[0, first:-1], their_equity[first:-2], rtol=1e-6)


def test_exit_reasons_cover_every_rule(embedded):
    m = Market.from_panel(_slice(embedded, "ETH/USD", 12000))
    up, down = ema_cross(m)
    reasons = set()
    for rules in (ExitRules(stop_loss=0.01, take_profit=0.01), ExitRules(trailing_stop=0.01),
                  ExitRules(max_bars=5)):
        reasons |= set(backtest(m, up, down, rules=rules, costs=Costs(fee=FEE, slippage=0.0)).trades.reasons())
    assert {"signal", "stop", "target", "trail", "time", "end"} <= reasons | {"end"}
    assert {"signal", "stop", "target", "trail", "time"} <= reasons
