"""The RL environment: gymnasium API, action semantics, and the paper broker's accounting."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from engine.data.panel import CandlePanel
from engine.data.synthetic import synthetic_panel
from engine.rl.env import BUY, EXIT, HOLD, SELL, TradingEnv
from engine.trading.broker import OrderRequest
from engine.trading.paper import PaperBroker


def _panel(n_bars: int = 120, seed: int = 3) -> CandlePanel:
    return synthetic_panel(1, n_bars, seed=seed)


def _env(panel: CandlePanel, **kw) -> TradingEnv:
    feats = np.random.default_rng(0).normal(size=(panel.n_bars, 3))
    return TradingEnv(panel.open[0], panel.close[0], feats, **kw)


@pytest.mark.filterwarnings("ignore:.*Box observation space:UserWarning")
def test_gymnasium_checker_accepts_the_env():
    env = _env(_panel(), episode_bars=50)
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (5,) and env.action_space.n == 4


def test_actions_with_and_without_a_position():
    env = _env(_panel(), fee_bps=0.0, slippage_bps=0.0)
    env.reset(options={"start": 0, "end": 60})
    for action in (HOLD, SELL, EXIT):  # flat: all no-ops
        env.step(action)
        assert env.position.quantity == 0 and env.cash == 10_000 and env.trades == 0
    obs, *_ = env.step(BUY)
    assert env.long and env.trades == 1 and obs[-2] == 1.0
    qty = env.position.quantity
    env.step(BUY)  # long: no pyramiding
    assert env.position.quantity == qty and env.trades == 1
    env.step(SELL)  # half out
    assert env.position.quantity == pytest.approx(qty / 2)
    obs, *_ = env.step(EXIT)
    assert env.position.quantity == 0 and env.trades == 3 and obs[-2] == 0.0 and obs[-1] == 0.0


def test_orders_fill_at_the_next_open_with_slippage_and_fee():
    panel = _panel()
    env = _env(panel)
    env.reset(options={"start": 10, "end": 60})
    env.step(BUY)  # decided at the close of bar 10, filled at the open of bar 11
    price = panel.open[0, 11] * (1 + 5e-4)
    qty = 0.95 * 10_000 / panel.close[0, 10]
    assert env.position.quantity == pytest.approx(qty)
    assert env.cash == pytest.approx(10_000 - qty * price * (1 + 1e-3))
    assert env.equity() == pytest.approx(env.cash + qty * panel.close[0, 11])


def test_reward_is_the_change_in_equity_net_of_costs():
    env = _env(_panel())
    env.reset(options={"start": 0, "end": 40})
    rng = np.random.default_rng(1)
    total, done = 0.0, False
    while not done:
        _, reward, done, _, _ = env.step(int(rng.integers(0, 4)))
        total += reward
    assert env.trades > 3
    assert total == pytest.approx((env.equity() - 10_000) / 10_000 * 100, rel=1e-9, abs=1e-9)


def _with_gaps(panel: CandlePanel) -> CandlePanel:
    o, h, lo, c, v = (np.array(a, copy=True) for a in (panel.open, panel.high, panel.low, panel.close, panel.volume))
    for arr in (o, h, lo, c, v):
        arr[0, [30, 31, 55]] = np.nan  # missing bars: orders wait for the next bar with an open
    return CandlePanel(symbols=panel.symbols, timeframe=panel.timeframe, ts=panel.ts, open=o, high=h, low=lo,
                       close=c, volume=v)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accounting_matches_the_paper_broker_on_the_same_actions(seed):
    panel = _with_gaps(_panel(200, seed=seed))
    env = _env(panel, fee_bps=10.0, slippage_bps=5.0)
    broker = PaperBroker(panel.symbols, fee_bps=10.0, slippage_bps=5.0, cash=10_000.0)
    symbol = panel.symbols[0]
    rng = np.random.default_rng(seed)
    start, end = 5, 200
    env.reset(options={"start": start, "end": end})
    broker.on_bar(panel.bar(start))
    fills = 0
    for t in range(start, end - 1):
        action = int(rng.choice(4, p=[0.55, 0.2, 0.1, 0.15]))
        order = env.order_for(action) if not env.pending else None
        if order is not None:
            ack = broker.submit(OrderRequest(client_order_id=f"o{t}", symbol=symbol, side=order.side,
                                             order_type="market", quantity=order.quantity))
            assert ack.status == "submitted", ack.message
        env.step(action)
        reports = broker.on_bar(panel.bar(t + 1))
        fills += sum(1 for r in reports if getattr(r, "fill_id", None))
        assert env.cash == pytest.approx(broker.balances().cash, rel=1e-12, abs=1e-9)
        assert env.position.quantity == pytest.approx(broker.position(symbol).quantity, rel=1e-12, abs=1e-12)
        assert env.equity() == pytest.approx(broker.equity(), rel=1e-12)
    assert fills == env.trades and fills >= 10
    assert not math.isclose(env.equity(), 10_000.0)
